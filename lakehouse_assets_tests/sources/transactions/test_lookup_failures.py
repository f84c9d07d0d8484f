"""A lookup service that is down: MySQL on a closed port (the local default otherwise).

Pins: the stores lookup is retried, then the run fails naming the service (never the host,
user or password), and silver — every date partition and the state — stays byte-identical to
what the previous batch left; once the service is back the same batch goes through.
"""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets import settings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.lake.object_store import LocalObjectStore
from lakehouse_assets.medallion.landing import land_samples
from lakehouse_assets.resources.lake import LocalLakeResource
from lakehouse_assets.resources.parameters import LocalParametersResource
from lakehouse_assets.resources.secrets import EnvironmentSecretsResource
from lakehouse_assets.sources.transactions.aws_lookups import MySqlStoresLookup
from lakehouse_assets.sources.transactions.datasets import LANDED_DATASETS
from lakehouse_assets_tests.sources.transactions.mysql import PASSWORD, SECRET_VAR

RAW = "data-lakehouse-raw"
SENSOR = "landing__transactions__batches_sensor"
JOB = "landing__transactions__batches_job"


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(settings.ROOT_VAR, str(tmp_path / "lake"))
    monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
    monkeypatch.delenv(settings.PARAMETERS_FILE_VAR, raising=False)
    return tmp_path / "lake"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_batch(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """One sensor evaluation (fresh cursor) and the run of the one batch it requests."""
    sensor = defs.resolve_sensor_def(SENSOR)
    with dg.build_sensor_context(
        instance=instance, resources=dict(defs.resources or {}), sensor_name=SENSOR
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests or []
    instance.add_dynamic_partitions("transactions__batches", [request.partition_key or ""])
    tags = {**request.tags, "dagster/sensor_name": SENSOR, "dagster/run_key": request.run_key}
    return defs.resolve_job_def(JOB).execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=tags, raise_on_error=False
    )


def silver_digests(lake: Path) -> dict[str, str]:
    root = lake / "data-lakehouse-silver"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }  # fmt: skip


def failure_of(result: dg.ExecuteInProcessResult, step: str) -> str:
    (event,) = [e for e in result.get_step_failure_events() if e.step_key == step]
    error = event.step_failure_data.error
    assert error is not None
    return error.message


def test_mysql_unreachable_fails_naming_it_and_writes_nothing(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    local = LocalLakeResource(parameters=LocalParametersResource())
    for landed in LANDED_DATASETS:
        land_samples(local, landed)
    assert run_batch(build_definitions(settings.Deployment.LOCAL), instance).success
    before = silver_digests(lake)
    assert "transactions/enriched/date=2024-03-05/data.parquet" in before

    items = lake.parent / "late.csv"
    items.write_text("transaction_id,item_id,quantity,unit_price\nTX-1006,SKU-5,1,2.0\n")
    LocalObjectStore(lake).put_file(RAW, "landing/transactions/items/late.csv", items)
    secret = {"host": "127.0.0.1", "port": closed_port(), "username": "reader",
              "password": PASSWORD, "dbname": "stores"}  # fmt: skip
    monkeypatch.setenv(SECRET_VAR, json.dumps(secret))
    mysql = MySqlStoresLookup(
        secrets=EnvironmentSecretsResource(),
        max_attempts=3,
        backoff_seconds=0.01,
        connect_timeout_seconds=2,
    )
    defs = build_definitions(settings.Deployment.LOCAL, {"transactions_stores": mysql})
    result = run_batch(defs, instance)
    assert not result.success
    message = failure_of(result, "silver__transactions__enriched")
    assert message == (
        "lakehouse_assets.errors.SourceError: transactions/enriched: MySQL stores lookup "
        "unreachable after 3 attempts (error 2003)\n"
    )
    assert PASSWORD not in message and "127.0.0.1" not in message
    assert silver_digests(lake) == before

    # The service is back (the packaged table): the kept batch is requested again and goes in.
    fixed = build_definitions(settings.Deployment.LOCAL)
    job = fixed.resolve_job_def(JOB)
    (kept,) = [r for r in instance.get_runs() if not r.is_success]
    rerun = job.execute_in_process(instance=instance, partition_key=kept.tags["dagster/partition"])
    assert rerun.success
    after = silver_digests(lake)
    assert (
        after["transactions/enriched/date=2024-03-04/data.parquet"]
        == (before["transactions/enriched/date=2024-03-04/data.parquet"])
    )
    assert (
        after["transactions/enriched/date=2024-03-05/data.parquet"]
        != (before["transactions/enriched/date=2024-03-05/data.parquet"])
    )
