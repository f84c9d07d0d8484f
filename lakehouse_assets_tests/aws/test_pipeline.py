"""The whole WordPress graph on the aws deployment, against moto over HTTP.

Proves the contract holds unchanged on AWS: the same assets write objects at exactly the contract
keys in the layer buckets, every object is encrypted, the Glue catalog gets a table per asset with
the Arrow schema mapped to Hive types, and gold is identical to what the local deployment builds
from the same source data.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from lakehouse_assets import settings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.infra.bootstrap import StackNames, bootstrap
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.sources.wordpress_api.datasets import ENDPOINTS_PARAMETER
from lakehouse_assets_tests.aws.conftest import (
    CREDENTIALS,
    Stack,
    aws_environment,
    make_stack,
    run_wordpress_job,
    table_keys,
)

pytestmark = pytest.mark.integration

REGION = "eu-west-2"
DATASETS = ("posts", "statistics_pages", "terms")
GOLD_GLUE_COLUMNS = [
    ("post_id", "bigint"),
    ("post_title", "string"),
    ("post_status", "string"),
    ("post_parent", "bigint"),
    ("post_type", "string"),
    ("post_date", "timestamp"),
    ("post_date_year", "bigint"),
    ("post_date_month", "bigint"),
    ("post_date_day", "bigint"),
    ("statistics_id", "bigint"),
    ("statistics_date", "timestamp"),
    ("statistics_count", "bigint"),
    ("statistics_date_year", "bigint"),
    ("statistics_date_month", "bigint"),
    ("statistics_date_day", "bigint"),
]


@dataclass
class Runs:
    stack: Stack
    aws: dg.ExecuteInProcessResult
    partition: str | None
    local_root: Path


@pytest.fixture(scope="module")
def runs(
    moto_endpoint: str, sample_site_urls: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runs]:
    """One aws run and one local run of the WordPress job over the same HTTP site."""
    stack = make_stack(moto_endpoint, REGION, "data-lakehouse", sample_site_urls)
    with aws_environment(moto_endpoint, REGION):
        defs = build_definitions(settings.Deployment.AWS)
        aws_result, partition = run_wordpress_job(defs, dg.DagsterInstance.ephemeral())
    directory = tmp_path_factory.mktemp("local")
    parameters = directory / "parameters.yaml"
    values: dict[str, object] = {ENDPOINTS_PARAMETER: sample_site_urls}
    values.update(
        {settings.PARAMETER_NAMES.bucket(layer): stack.bucket(layer) for layer in settings.LAYERS}
    )
    parameters.write_text(yaml.safe_dump(values), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(settings.DEPLOYMENT_VAR, "local")
        patch.setenv(settings.ROOT_VAR, str(directory / "lake"))
        patch.setenv(settings.PARAMETERS_FILE_VAR, str(parameters))
        defs = build_definitions(settings.Deployment.LOCAL)
        assert run_wordpress_job(defs, dg.DagsterInstance.ephemeral())[0].success
    yield Runs(stack, aws_result, partition, directory / "lake")


def test_run_succeeds_with_every_asset_and_check(runs: Runs) -> None:
    assert runs.aws.success
    materialized = {
        e.asset_key.to_user_string()
        for e in runs.aws.all_events
        if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION and e.asset_key
    }
    assert materialized == {
        f"{layer}/wordpress_api/{d}" for layer in ("raw", "bronze", "silver") for d in DATASETS
    } | {"gold/wordpress_api/statistics_postname"}
    checks = [
        e for e in runs.aws.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert len(checks) == 25  # 22 blocking, plus schema_drift on each bronze table
    assert all(e.event_specific_data.passed for e in checks)  # type: ignore[union-attr]


def test_tables_are_at_exactly_the_contract_keys(runs: Runs) -> None:
    stack = runs.stack
    for layer in ("bronze", "silver"):
        assert stack.keys(layer) == sorted(
            k for d in DATASETS for k in table_keys(d, runs.partition)
        )
    assert stack.keys("gold") == table_keys("statistics_postname", runs.partition)
    run_prefix = runs.aws.run_id.replace("-", "")[:8]
    day = runs.partition or r"\d{4}-\d{2}-\d{2}"
    raw_keys = stack.keys("raw")
    assert len(raw_keys) == 3
    for dataset, key in zip(sorted(DATASETS), raw_keys, strict=True):
        assert re.fullmatch(
            rf"wordpress_api/{dataset}/ingest_date={day}/"
            rf"{dataset}_\d{{8}}T\d{{12}}Z_{run_prefix}\.json",
            key,
        ), key


def test_every_object_is_encrypted(runs: Runs) -> None:
    s3 = runs.stack.client("s3")
    heads = {
        (layer, key): s3.head_object(Bucket=runs.stack.bucket(layer), Key=key)
        for layer in settings.LAYERS
        for key in runs.stack.keys(layer)
    }
    tables = 3 + 3 + 1
    assert len(heads) == 3 + (tables if runs.partition is None else 2 * tables)
    assert {h["ServerSideEncryption"] for h in heads.values()} == {"AES256"}
    # Every object carries the checksum create-only writes are verified against.
    assert all(len(h["Metadata"]["sha256"]) == 64 for h in heads.values())


def test_glue_tables_have_the_arrow_schema(runs: Runs) -> None:
    glue = runs.stack.client("glue")
    tables = {
        db: sorted(t["Name"] for t in glue.get_tables(DatabaseName=db)["TableList"])
        for db in ("lakehouse_bronze", "lakehouse_silver", "lakehouse_gold")
    }
    assert tables == {
        "lakehouse_bronze": [f"wordpress_api__{d}" for d in sorted(DATASETS)],
        "lakehouse_silver": [f"wordpress_api__{d}" for d in sorted(DATASETS)],
        "lakehouse_gold": ["wordpress_api__statistics_postname"],
    }
    gold = glue.get_table(DatabaseName="lakehouse_gold", Name="wordpress_api__statistics_postname")
    descriptor = gold["Table"]["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == GOLD_GLUE_COLUMNS
    assert descriptor["Location"] == "s3://data-lakehouse-gold/wordpress_api/statistics_postname/"
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == (
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )
    assert gold["Table"]["Parameters"]["classification"] == "parquet"
    terms = glue.get_table(DatabaseName="lakehouse_silver", Name="wordpress_api__terms")
    assert [(c["Name"], c["Type"]) for c in terms["Table"]["StorageDescriptor"]["Columns"]] == [
        ("term_id", "bigint"),
        ("name", "string"),
        ("slug", "string"),
        ("term_group", "bigint"),
        ("_ingested_at", "timestamp"),
        ("_raw_snapshot", "string"),
    ]
    bronze_terms = glue.get_table(DatabaseName="lakehouse_bronze", Name="wordpress_api__terms")
    columns = bronze_terms["Table"]["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [
        ("term_id", "string"),
        ("name", "string"),
        ("slug", "string"),
        ("term_group", "string"),
        ("_ingested_at", "timestamp"),
        ("_raw_snapshot", "string"),
    ]


def test_gold_equals_the_local_deployments(runs: Runs) -> None:
    body = runs.stack.client("s3").get_object(
        Bucket="data-lakehouse-gold", Key="wordpress_api/statistics_postname/data.parquet"
    )["Body"]
    aws_gold = pd.read_parquet(io.BytesIO(body.read()))
    local_gold = pd.read_parquet(
        runs.local_root / "data-lakehouse-gold" / "wordpress_api" / "statistics_postname"
    )
    assert len(aws_gold) > 100
    pd.testing.assert_frame_equal(aws_gold, local_gold)


def test_bootstrap_is_idempotent(runs: Runs, moto_endpoint: str) -> None:
    aws = AwsClientsResource(
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    again = bootstrap(aws, StackNames(), wordpress_endpoints=runs.stack.urls)
    assert again.created == []
    # buckets, their params, topics, their params, endpoints, databases; transactions' table,
    # log group, secret, 3 params; Spotify's secret, secret_id, base and token URLs.
    assert len(again.existing) == 4 + 4 + 5 + 5 + 1 + 3 + 6 + 4
    assert again.topic_arns == runs.stack.report.topic_arns
    s3 = runs.stack.client("s3")
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket="data-lakehouse-raw")["Rules"]
    assert lifecycle[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    block = s3.get_public_access_block(Bucket="data-lakehouse-raw")
    assert all(block["PublicAccessBlockConfiguration"].values())
    encryption = s3.get_bucket_encryption(Bucket="data-lakehouse-raw")
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
