"""The aws deployment behind a fault proxy in front of moto (real HTTP both ways, nothing
patched): what S3 throttling, S3 outages, SNS outages and SSM decryption failures do to a run.

Pinned down: a burst of 503 SlowDown is absorbed by the clients' retries (run succeeds, every
row there); sustained 500s fail the run in bounded time with a clear line and leave nothing
partial visible in S3; an SNS outage is retried, then fails the alert sensor's tick without
advancing its cursor (the next tick delivers the alert once); a SecureString that cannot be
decrypted, or a missing parameter, fails before any I/O, naming the parameter, its value in no
event, error or alert.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets import settings
from lakehouse_assets.automation.alerts import failure_alerts
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.sources.wordpress_api.datasets import ENDPOINTS_PARAMETER
from lakehouse_assets.sources.wordpress_api.sample_site import serve
from lakehouse_assets_tests.aws.conftest import (
    Stack,
    aws_environment,
    make_stack,
    run_wordpress_job,
    small_site,
)
from lakehouse_assets_tests.conftest import step_errors
from lakehouse_assets_tests.reliability.aws_fault_proxy import (
    FaultProxy,
    json_error,
    query_error,
    s3_error,
)
from lakehouse_assets_tests.reliability.fault_server import fault_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

URL_TOKEN = "tok-reliability-5e8d1c"
TABLES = [
    (layer, d) for layer in ("bronze", "silver") for d in ("posts", "statistics_pages", "terms")
]


@contextmanager
def deployment(proxy: FaultProxy, region: str, **env: str) -> Iterator[dg.Definitions]:
    """The aws definitions with every AWS call going through the proxy."""
    with aws_environment(proxy.endpoint, region), pytest.MonkeyPatch.context() as patch:
        patch.setenv(settings.STEP_RETRY_DELAY_VAR, "0.01")
        for name, value in env.items():
            patch.setenv(name, value)
        yield build_definitions(settings.Deployment.AWS)


def causes(result: dg.ExecuteInProcessResult) -> list[str]:
    """The innermost error of each failed step, as ``module.Class: message``."""
    found = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause
            assert error is not None
            found.append(error.message.strip())
    return found


def read_s3_table(stack: Stack, layer: str, dataset: str) -> pd.DataFrame:
    key = f"wordpress_api/{dataset}/data.parquet"
    body = stack.client("s3").get_object(Bucket=stack.bucket(layer), Key=key)["Body"]
    return pd.read_parquet(io.BytesIO(body.read()))


@pytest.fixture(scope="module")
def site_urls() -> Iterator[tuple[list[str], dict[str, int]]]:
    site = small_site()
    rows = {"posts": 0, "statistics_pages": 0, "terms": 0}
    from lakehouse_assets_tests.aws.conftest import SEGMENTS

    for dataset, segment in SEGMENTS.items():
        table = site.tables[segment]
        rows[dataset] = len(table) if isinstance(table, list) else 0
    with serve(site) as base_url:
        yield [f"{u}?token={URL_TOKEN}" for u in site.endpoint_urls(base_url)], rows


def test_an_s3_throttling_burst_is_absorbed_by_retries(
    proxy: FaultProxy, moto_endpoint: str, site_urls: tuple[list[str], dict[str, int]]
) -> None:
    urls, rows = site_urls
    stack = make_stack(moto_endpoint, "us-west-1", "rel-burst", urls)
    proxy.fail(
        "s3", s3_error(503, "SlowDown", "Please reduce your request rate."), action="PUT", times=3
    )
    with deployment(proxy, "us-west-1") as defs:
        result, _ = run_wordpress_job(defs, dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success, step_errors(result)
    assert len([c for c in proxy.of("s3", "PUT") if c.faulted]) == 3
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    bronze_posts = read_s3_table(stack, "bronze", "posts")
    assert len(bronze_posts) == rows["posts"]  # every row, once
    assert read_s3_table(stack, "silver", "posts")["ID"].is_unique
    gold = read_s3_table(stack, "gold", "statistics_postname")
    assert len(gold) > 100 and not gold.duplicated().any()


def test_sustained_s3_500s_fail_fast_and_clearly_with_nothing_partial(
    proxy: FaultProxy, moto_endpoint: str, site_urls: tuple[list[str], dict[str, int]]
) -> None:
    urls, rows = site_urls
    stack = make_stack(moto_endpoint, "us-west-2", "rel-outage", urls)
    # Only the silver bucket is down: raw and bronze land, silver and gold must not half-land.
    proxy.fail(
        "s3",
        s3_error(500, "InternalError", "We encountered an internal error."),
        action="PUT",
        path_prefix=f"/{stack.bucket('silver')}/",
    )
    started = time.monotonic()
    with deployment(proxy, "us-west-2", AWS_MAX_ATTEMPTS="3") as defs:
        result, _ = run_wordpress_job(defs, dg.DagsterInstance.ephemeral(), raise_on_error=False)
    elapsed = time.monotonic() - started
    assert not result.success
    errors = step_errors(result)
    assert set(errors) == {
        f"silver__wordpress_api__{d}" for d in ("posts", "statistics_pages", "terms")
    }
    # The cause, as the run's step failure carries it (the summary line shows only Dagster's
    # "Error occurred while handling output" wrapper: alerts.WRAPPER_ERRORS should unwrap it).
    assert set(causes(result)) == {
        "botocore.exceptions.ClientError: An error occurred (InternalError) when calling the "
        "PutObject operation (reached max retries: 2): We encountered an internal error."
    }
    assert elapsed < 90
    assert stack.keys("silver") == [] and stack.keys("gold") == []  # nothing partial
    assert len(read_s3_table(stack, "bronze", "posts")) == rows["posts"]


@pytest.fixture
def failing_site() -> Iterator[list[str]]:
    """A site whose statistics endpoint answers HTML with status 200: raw fails at once."""
    site = small_site(statistics_pages=(200, b"<html><body>Database error</body></html>"))
    with serve(site) as base_url:
        yield [f"{u}?token={URL_TOKEN}" for u in site.endpoint_urls(base_url)]


def test_an_sns_outage_fails_the_alert_tick_and_keeps_its_cursor(
    proxy: FaultProxy, moto_endpoint: str, failing_site: list[str]
) -> None:
    stack = make_stack(moto_endpoint, "ca-central-1", "rel-sns", failing_site)
    queue = stack.subscribe_queue("raw")
    instance = dg.DagsterInstance.ephemeral()
    with deployment(proxy, "ca-central-1", AWS_MAX_ATTEMPTS="2") as defs:
        result, _ = run_wordpress_job(defs, instance, raise_on_error=False)
        assert not result.success
        proxy.fail("sns", query_error(500, "InternalError", "Internal failure"), action="Publish")
        resources = {"notifications": defs.resources["notifications"]}
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            with pytest.raises(
                Exception, match=r"failed 4 times \(InternalErrorException\)"
            ) as raised:
                failure_alerts(context)
            assert context.cursor is None  # not advanced: the next tick tries again
        publishes = proxy.of("sns", "Publish")
        assert len(publishes) == 4 * 2 and all(c.faulted for c in publishes)  # retried
        assert URL_TOKEN not in str(raised.value)
        assert stack.receive(queue) == []
        proxy.clear()
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            failure_alerts(context)
            assert context.cursor is not None
        with dg.build_sensor_context(
            instance=instance, resources=resources, cursor=context.cursor
        ) as again:
            failure_alerts(again)  # a later tick sends nothing twice
    (delivered,) = stack.receive(queue)
    assert result.run_id in delivered["Message"] and URL_TOKEN not in delivered["Message"]


@pytest.mark.parametrize(
    ("answer", "line"),
    [
        (
            json_error(
                400, "AccessDeniedException", "User is not authorized to perform kms:Decrypt"
            ),
            "(AccessDeniedException)",
        ),
        (
            json_error(400, "KMSInvalidStateException", "The key is pending deletion"),
            "(KMSInvalidStateException)",
        ),
    ],
    ids=["access-denied", "kms-error"],
)
def test_a_secure_string_that_cannot_be_decrypted_fails_before_any_io(
    proxy: FaultProxy, moto_endpoint: str, answer: tuple[int, bytes], line: str
) -> None:
    with fault_server() as site:
        urls = [f"{site.base_url}/posts_a8f3k/?token={URL_TOKEN}"]
        stack = make_stack(moto_endpoint, "sa-east-1", "rel-kms", urls, endpoints_secure=True)
        proxy.fail("ssm", answer, action="GetParameters", content_type="application/x-amz-json-1.1")
        with deployment(proxy, "sa-east-1") as defs:
            result, _ = run_wordpress_job(
                defs, dg.DagsterInstance.ephemeral(), raise_on_error=False
            )
        assert site.received == []
    errors = step_errors(result)
    assert errors and all(ENDPOINTS_PARAMETER in e and e.endswith(line) for e in errors.values())
    assert all(e.startswith("ConfigurationError: parameter(s) ") for e in errors.values())
    assert proxy.of("s3", "PUT") == [] and all(stack.keys(x) == [] for x in settings.LAYERS)
    assert not any(URL_TOKEN in str(e) for e in result.all_events)


def test_a_missing_parameter_on_aws_fails_before_any_io_naming_it(
    proxy: FaultProxy, moto_endpoint: str
) -> None:
    with fault_server() as site:
        stack = make_stack(moto_endpoint, "eu-north-1", "rel-missing", [f"{site.base_url}/x/"])
        stack.client("ssm").delete_parameter(Name=ENDPOINTS_PARAMETER)
        with deployment(proxy, "eu-north-1") as defs:
            result, _ = run_wordpress_job(
                defs, dg.DagsterInstance.ephemeral(), raise_on_error=False
            )
        assert site.received == []
    assert set(step_errors(result).values()) == {
        f"ConfigurationError: parameter(s) missing from SSM Parameter Store: {ENDPOINTS_PARAMETER}"
    }
    assert proxy.of("s3", "PUT") == []
