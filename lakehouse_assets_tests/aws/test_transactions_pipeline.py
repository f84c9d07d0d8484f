"""The transactions pipeline on the aws path: moto server over HTTP for S3, Glue, DynamoDB,
CloudWatch Logs, Secrets Manager and SSM, MariaDB for the stores table.

Pins: ``bootstrap(transactions=True)`` creates the table, log group, placeholder secret and
parameters; the secret (pointed at MariaDB) and the services seeded with the packaged samples,
files landed in S3 → one batch → silver ``date=`` partitions in the silver bucket with the
enriched values, and the Glue table partitioned by ``date`` with both partitions registered
(``get_partitions``); DynamoDB throttled past its retries fails the run naming the service and
the table, with no partition or state changed. 500 more order files and their items: timed.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from lakehouse_assets import settings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.infra.bootstrap import StackNames, bootstrap
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.aws.secrets import SecretsManagerResource
from lakehouse_assets.sources.transactions.aws_lookups import (
    DynamoDbCustomersLookup,
    MySqlStoresLookup,
)
from lakehouse_assets.sources.transactions.lookups import SAMPLE_DIR
from lakehouse_assets_tests.aws.conftest import CREDENTIALS, aws_environment, moto_client
from lakehouse_assets_tests.aws.test_transactions_lookups import (  # noqa: F401 (fixture)
    Proxy,
    proxy,
)
from lakehouse_assets_tests.sources.transactions.mysql import Database, stores_database

pytestmark = pytest.mark.integration

REGION = "eu-north-1"
PREFIX = "tx-lakehouse"
SENSOR = "landing__transactions__batches_sensor"
JOB = "landing__transactions__batches_job"
NAMES = StackNames(bucket_prefix=PREFIX, topic_prefix=PREFIX)
#: CloudWatch Logs (and moto) refuse events older than 14 days: the sample's orders and fraud
#: events are moved forward by whole days, to end yesterday.
SHIFT = timedelta(days=(datetime.now(UTC).date() - date(2024, 3, 6)).days)


def shifted(day: str) -> str:
    return (date.fromisoformat(day) + SHIFT).isoformat()


DAYS = [shifted("2024-03-04"), shifted("2024-03-05")]


@dataclass
class TxStack:
    endpoint: str
    database: Database

    def client(self, service: str) -> Any:
        return moto_client(self.endpoint, REGION, service)

    def keys(self, layer: str, prefix: str = "") -> list[str]:
        pages = (
            self.client("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=NAMES.bucket(layer), Prefix=prefix)
        )
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def land(self, key: str, body: bytes) -> None:
        self.client("s3").put_object(Bucket=NAMES.bucket("raw"), Key=key, Body=body)

    def silver_bytes(self) -> dict[str, bytes]:
        s3 = self.client("s3")
        return {
            key: s3.get_object(Bucket=NAMES.bucket("silver"), Key=key)["Body"].read()
            for key in self.keys("silver")
        }


@pytest.fixture(scope="module")
def stack(moto_endpoint: str) -> Iterator[TxStack]:
    aws = AwsClientsResource(
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    report = bootstrap(aws, NAMES, transactions=True)
    assert {
        "dynamodb table customer-activity",
        "log group /lab/tx-fraud-score",
        "secret lakehouse/transactions-mysql",
        "parameter /transactions/mysql/secret_id",
    } <= set(report.created)
    with stores_database() as database:
        tx = TxStack(moto_endpoint, database)
        tx.client("secretsmanager").put_secret_value(
            SecretId=NAMES.transactions_secret, SecretString=database.secret()
        )
        dynamodb = tx.client("dynamodb")
        customers = json.loads((SAMPLE_DIR / "customer_activity.json").read_text())
        for item in customers["customer-activity"]:
            seen = item["last_seen"]
            value = {"N": str(seen)} if isinstance(seen, int) else {"S": seen}
            dynamodb.put_item(
                TableName=NAMES.customer_table,
                Item={"customer_id": {"S": item["customer_id"]}, "last_seen": value},
            )
        logs = tx.client("logs")
        events = json.loads((SAMPLE_DIR / "fraud_score_events.json").read_text())
        logs.create_log_stream(logGroupName=NAMES.fraud_score_group, logStreamName="scorer")
        logs.put_log_events(
            logGroupName=NAMES.fraud_score_group,
            logStreamName="scorer",
            logEvents=sorted(
                (
                    {**e, "timestamp": e["timestamp"] + int(SHIFT.total_seconds() * 1000)}
                    for e in events[NAMES.fraud_score_group]
                ),
                key=lambda e: e["timestamp"],
            ),
        )
        for dataset in ("orders", "items"):
            folder = SAMPLE_DIR / "landing" / dataset
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                relative = path.relative_to(folder).as_posix()
                body = path.read_text(encoding="utf-8")
                for day in ("2024-03-04", "2024-03-05"):
                    body = body.replace(f'"{day}T', f'"{shifted(day)}T')
                tx.land(f"landing/transactions/{dataset}/{relative}", body.encode())
                time.sleep(0.01)
        yield tx


def definitions(tx: TxStack, **overrides: object) -> dg.Definitions:
    stores = MySqlStoresLookup(
        secrets=SecretsManagerResource(aws=AwsClientsResource()), table=tx.database.table
    )
    return build_definitions(settings.Deployment.AWS, {"transactions_stores": stores, **overrides})


def run_batches(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> list[dg.ExecuteInProcessResult]:
    """One sensor evaluation (fresh cursor) and the runs it requests."""
    sensor = defs.resolve_sensor_def(SENSOR)
    with dg.build_sensor_context(
        instance=instance, resources=dict(defs.resources or {}), sensor_name=SENSOR
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    results = []
    for request in result.run_requests or []:
        instance.add_dynamic_partitions("transactions__batches", [request.partition_key or ""])
        tags = {**request.tags, "dagster/sensor_name": SENSOR, "dagster/run_key": request.run_key}
        results.append(
            defs.resolve_job_def(JOB).execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                tags=tags,
                raise_on_error=False,
            )
        )
    return results


def test_landed_in_s3_to_glue_partitions(stack: TxStack, proxy: Proxy) -> None:  # noqa: F811
    instance = dg.DagsterInstance.ephemeral()
    with aws_environment(stack.endpoint, REGION):
        (result,) = run_batches(definitions(stack), instance)
    assert result.success
    assert sorted(stack.keys("silver")) == [
        "transactions/_state/enriched/state.parquet",
        *(f"transactions/enriched/date={d}/data.parquet" for d in DAYS),
    ]
    silver = stack.silver_bytes()
    day = pq.read_table(
        io.BytesIO(silver[f"transactions/enriched/date={DAYS[1]}/data.parquet"])
    ).to_pylist()
    tx_1002 = next(r for r in day if r["transaction_id"] == "TX-1002")
    assert (tx_1002["store_name"], tx_1002["fraud_score"], tx_1002["total"]) == (
        "Northern Quarter",
        7,
        4.5,
    )
    assert tx_1002["customer_last_seen"].isoformat() == "2024-03-01T08:00:00+00:00"
    assert {r["transaction_id"] for r in day} == {"TX-1002", "TX-1005"}

    glue = stack.client("glue")
    table = glue.get_table(DatabaseName="lakehouse_silver", Name="transactions__enriched")
    assert table["Table"]["PartitionKeys"] == [{"Name": "date", "Type": "string"}]
    columns = [c["Name"] for c in table["Table"]["StorageDescriptor"]["Columns"]]
    assert columns[:4] == ["transaction_id", "timestamp", "store_id", "customer_id"]
    assert "date" not in columns
    partitions = glue.get_partitions(
        DatabaseName="lakehouse_silver", TableName="transactions__enriched"
    )["Partitions"]
    assert sorted((p["Values"][0], p["StorageDescriptor"]["Location"]) for p in partitions) == [
        (d, f"s3://{PREFIX}-silver/transactions/enriched/date={d}/") for d in DAYS
    ]

    # DynamoDB throttled past its retries: the run fails naming it, nothing in silver moves.
    stack.land(
        "landing/transactions/items/late.csv",
        b"transaction_id,item_id,quantity,unit_price\nTX-1006,SKU-5,1,2.0\n",
    )
    proxy.throttle = -1
    throttled = DynamoDbCustomersLookup(
        aws=AwsClientsResource(endpoint_url=proxy.url, max_attempts=3)
    )
    with aws_environment(stack.endpoint, REGION):
        (failed,) = run_batches(definitions(stack, transactions_customers=throttled), instance)
    assert not failed.success
    (event,) = [
        e
        for e in failed.get_step_failure_events()
        if e.step_key == "silver__transactions__enriched"
    ]
    assert event.step_failure_data.error is not None
    assert event.step_failure_data.error.message == (
        "lakehouse_assets.errors.SourceError: transactions/enriched: DynamoDB customers lookup "
        "throttled after 3 attempts (ProvisionedThroughputExceededException; table "
        "customer-activity)\n"
    )
    assert proxy.targets.count("BatchGetItem") == 3
    assert stack.silver_bytes() == silver
    # A failed run is not requested again by the sensor: its retry (or a re-execution) runs it.
    proxy.throttle = 0
    with aws_environment(stack.endpoint, REGION):
        job = definitions(stack).resolve_job_def(JOB)
        assert job.execute_in_process(
            instance=instance, partition_key=failed.dagster_run.tags["dagster/partition"]
        ).success

    # More order files and their item files (500; 5,000 with LAKEHOUSE_TX_MOTO_FILES=5000),
    # timed from landing to visible in silver.
    started = time.monotonic()
    count = int(os.environ.get("LAKEHOUSE_TX_MOTO_FILES", "500"))
    day_6 = shifted("2024-03-06")
    for n in range(count):
        order = {"transaction_id": f"TX-M{n:05d}", "store_id": 101 + n % 3,
                 "customer_id": f"C-100{1 + n % 4}", "timestamp": f"{day_6}T12:00:00Z"}  # fmt: skip
        stack.land(f"landing/transactions/orders/m/{n:05d}.json", json.dumps(order).encode())
        stack.land(
            f"landing/transactions/items/m/{n:05d}.csv",
            f"transaction_id,item_id,quantity,unit_price\nTX-M{n:05d},SKU-1,1,1.0\n".encode(),
        )
    landed = time.monotonic()
    with aws_environment(stack.endpoint, REGION):
        results = run_batches(definitions(stack), instance)
    done = time.monotonic()
    assert [r.success for r in results] == [True]
    new_day = pq.read_table(
        io.BytesIO(
            stack.silver_bytes()[f"transactions/enriched/date={shifted('2024-03-06')}/data.parquet"]
        )
    )
    assert new_day.num_rows == count
    print(
        f"\nmoto: {count} order + {count} item files landed in {landed - started:.1f}s; "
        f"tick + runs {done - landed:.1f}s = {count / ((done - landed) / 60):,.0f} "
        "transactions/minute"
    )
