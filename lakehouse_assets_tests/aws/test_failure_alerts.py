"""Failures on the aws deployment: one SNS alert per failed layer, and no secret anywhere.

One run fails in three layers at once (raw: an endpoint answers HTML; bronze: the newest raw
snapshot is corrupt; silver: a blocking check fails). The ``failure_alerts`` sensor must publish
one message to each of those layers' topics, carrying the run id, and nothing to the others;
SQS queues subscribed to the topics receive what SNS delivered. The endpoint URLs are a
SecureString with a token and a Secrets Manager secret is read during a run: neither value may
appear in the event log, run config, tags, metadata, alerts or exception texts.
"""

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetExecutionContext

from lakehouse_assets import settings
from lakehouse_assets.automation.alerts import failure_alerts
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.deployments import aws_resources
from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.lake.s3_object_store import S3ObjectStore
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.aws.secrets import SecretsManagerResource
from lakehouse_assets.resources.secrets import SecretsResource
from lakehouse_assets.sources.wordpress_api.sample_site import generate_sample_tables, serve
from lakehouse_assets_tests.aws.conftest import (
    CREDENTIALS,
    Stack,
    aws_environment,
    make_stack,
    run_wordpress_job,
    small_site,
)

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
URL_TOKEN = "tok-3f9a0c7e5d1b4a6f"  # in the SecureString endpoint URLs
SECRET_VALUE = "sm-secret-8c2e7a41d09b"  # in Secrets Manager
SECRETS = (URL_TOKEN, SECRET_VALUE)


#: A current bronze posts table far larger than what the site now serves: the volume guard
#: blocks bronze (a bronze failure, as a truncated snapshot once made it fail).
CURRENT_BRONZE_POSTS = "wordpress_api/posts/data.parquet"


@dataclass
class FailedRun:
    stack: Stack
    instance: dg.DagsterInstance
    result: dg.ExecuteInProcessResult
    queues: dict[str, str]
    delivered: dict[str, list[dict[str, Any]]]
    sensor_cursor: str | None


def _terms_without_slug() -> list[dict[str, str]]:
    terms = generate_sample_tables(posts=40, days=60)["terms"]
    return [{k: v for k, v in row.items() if k != "slug"} for row in terms]


@pytest.fixture(scope="module")
def failed_run(moto_endpoint: str) -> Iterator[FailedRun]:
    site = small_site(
        statistics_pages=(200, b"<html><body>Database error</body></html>"),
        terms=_terms_without_slug(),
    )
    with serve(site) as base_url:
        urls = [f"{url}?token={URL_TOKEN}" for url in site.endpoint_urls(base_url)]
        stack = make_stack(moto_endpoint, REGION, "fail-lakehouse", urls, endpoints_secure=True)
        queues = {layer: stack.subscribe_queue(layer) for layer in stack.report.topic_arns}
        instance = dg.DagsterInstance.ephemeral()
        with aws_environment(moto_endpoint, REGION):
            defs = build_definitions(settings.Deployment.AWS)
            store = S3ObjectStore(stack.client("s3"))
            with tempfile.TemporaryDirectory() as directory:
                larger = Path(directory) / "data.parquet"
                pq.write_table(pa.table({"ID": [str(i) for i in range(1000)]}), larger)
                store.put_file(stack.bucket("bronze"), CURRENT_BRONZE_POSTS, larger)
            result, _ = run_wordpress_job(defs, instance, raise_on_error=False)
            with dg.build_sensor_context(
                instance=instance, resources={"notifications": defs.resources["notifications"]}
            ) as context:
                failure_alerts(context)
        delivered = {layer: stack.receive(url) for layer, url in queues.items()}
        yield FailedRun(stack, instance, result, queues, delivered, context.cursor)


def _message(run: FailedRun, layer: str) -> dict[str, Any]:
    (envelope,) = run.delivered[layer]
    assert envelope["TopicArn"] == run.stack.report.topic_arns[layer]
    return json.loads(envelope["Message"])


def test_the_run_fails_in_raw_bronze_and_silver(failed_run: FailedRun) -> None:
    assert not failed_run.result.success
    failed = sorted(
        e.step_key or ""
        for e in failed_run.result.all_events
        if e.event_type == dg.DagsterEventType.STEP_FAILURE
    )
    assert failed == [
        "bronze__wordpress_api__posts",
        "raw__wordpress_api__statistics_pages",
        "silver__wordpress_api__terms",
    ]


def test_each_failed_layer_alerts_its_own_topic_once(failed_run: FailedRun) -> None:
    run_id = failed_run.result.run_id
    raw = _message(failed_run, "raw")
    assert (raw["layer"], raw["assets"], raw["run_id"]) == (
        "raw",
        ["raw/wordpress_api/statistics_pages"],
        run_id,
    )
    assert raw["error_class"] == "SourceError"
    assert "wordpress_api/statistics_pages" in raw["error"]
    assert raw["run_url"].endswith(f"/runs/{run_id}")
    bronze = _message(failed_run, "bronze")
    assert (bronze["layer"], bronze["assets"], bronze["run_id"]) == (
        "bronze",
        ["bronze/wordpress_api/posts"],
        run_id,
    )
    silver = _message(failed_run, "silver")
    assert (silver["assets"], silver["run_id"]) == (["silver/wordpress_api/terms"], run_id)
    assert silver["failed_checks"] == ["silver/wordpress_api/terms:expected_columns"]
    assert silver["error_class"] == "DataContractError"
    assert failed_run.delivered["gold"] == []
    assert failed_run.delivered["pipeline"] == []
    (envelope,) = failed_run.delivered["silver"]
    assert envelope["Subject"] == "[lakehouse] silver failed: silver/wordpress_api/terms"


def test_a_second_sensor_tick_sends_nothing_again(
    failed_run: FailedRun, moto_endpoint: str
) -> None:
    with aws_environment(moto_endpoint, REGION):
        defs = build_definitions(settings.Deployment.AWS)
        with dg.build_sensor_context(
            instance=failed_run.instance,
            cursor=failed_run.sensor_cursor,
            resources={"notifications": defs.resources["notifications"]},
        ) as context:
            failure_alerts(context)
    assert {layer: failed_run.stack.receive(url) for layer, url in failed_run.queues.items()} == {
        layer: [] for layer in failed_run.queues
    }


def _secret_asset() -> dg.AssetsDefinition:
    @dg.asset(key=["raw", "secret_probe", "credentials"])
    def credentials(context: AssetExecutionContext, secrets: SecretsResource) -> None:
        value = secrets.get_json("lakehouse/probe")
        context.log.info(f"read {len(value)} credential field(s)")
        context.add_output_metadata({"fields": sorted(value)})

    return credentials


def _everything_recorded(instance: dg.DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    records = instance.get_records_for_run(run_id, limit=100_000).records
    assert len(records) > 10
    return "\n".join(
        [
            dg.serialize_value(run),
            json.dumps(run.run_config, default=str),
            json.dumps(dict(run.tags)),
            *(dg.serialize_value(record.event_log_entry) for record in records),
        ]
    )


def test_no_secret_reaches_the_event_log_alerts_or_errors(
    failed_run: FailedRun, moto_endpoint: str
) -> None:
    failed_run.stack.client("secretsmanager").create_secret(
        Name="lakehouse/probe", SecretString=json.dumps({"client_secret": SECRET_VALUE})
    )
    with aws_environment(moto_endpoint, REGION):
        resources = aws_resources()
        probe = dg.materialize([_secret_asset()], resources=resources, instance=failed_run.instance)
        assert probe.success
        secrets = resources["secrets"]
        assert isinstance(secrets, SecretsManagerResource)
        with pytest.raises(ConfigurationError) as missing:
            secrets.get_string("lakehouse/absent")
    recorded = "\n".join(
        [
            _everything_recorded(failed_run.instance, failed_run.result.run_id),
            _everything_recorded(failed_run.instance, probe.run_id),
            json.dumps(failed_run.delivered),
            failed_run.sensor_cursor or "",
            str(missing.value),
        ]
    )
    # The scan looks at real content: errors and metadata of both runs are in it.
    assert "wordpress_api/statistics_pages" in recorded
    assert "client_secret" in recorded
    assert "lakehouse/absent" in str(missing.value)
    for secret in SECRETS:
        assert secret not in recorded


def test_secrets_manager_reads_once_per_run(moto_endpoint: str) -> None:
    aws = AwsClientsResource(
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client = aws.client("secretsmanager")
    client.create_secret(Name="lakehouse/text", SecretString="not json " + SECRET_VALUE)
    calls: list[str] = []
    client.meta.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda **kwargs: calls.append("get")
    )
    secrets = SecretsManagerResource(aws=aws)
    assert secrets.get_string("lakehouse/text") == "not json " + SECRET_VALUE
    assert secrets.get_string("lakehouse/text") == "not json " + SECRET_VALUE
    assert calls == ["get"]
    with pytest.raises(ConfigurationError) as not_json:
        secrets.get_json("lakehouse/text")
    assert str(not_json.value) == "secret lakehouse/text is not valid JSON"
    assert not_json.value.__cause__ is None and not_json.value.__context__ is None
