"""Exactly once under load: 5,000 order files and their 5,000 item files landing between sensor
ticks, hundreds in the same second (the second the cursor's high-water mark is in), with
re-uploads at the same key and under another key.

Pins: every transaction's lines in silver exactly once, none missing, each re-upload's latest
landing winning; a few runs (one per batch of at most ``max_objects_per_batch`` versions), not
one per file; a fresh-cursor evaluation (what ``lakehouse run`` does) after the ticks requests
nothing, and neither does the next tick; a manifest written by a tick that failed afterwards
is requested again, and its versions are in no second batch. Prints the time taken and the
transactions per minute.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets import settings
from lakehouse_assets.automation.batch_sensor import BatchCursor, listed_batches
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.lake.object_store import LocalObjectStore

RAW = "data-lakehouse-raw"
SENSOR = "landing__transactions__batches_sensor"
JOB = "landing__transactions__batches_job"
FILES = 5_000
SECOND = 1_767_000_000  # every file of a wave lands in this one second (or the next)


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(settings.ROOT_VAR, str(tmp_path / "lake"))
    monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
    monkeypatch.delenv(settings.PARAMETERS_FILE_VAR, raising=False)
    return tmp_path / "lake"


def write(lake: Path, key: str, body: str, second: float) -> None:
    """Land a file as an uploader would, its last-modified time set to ``second``."""
    path = lake / RAW / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    os.utime(path, (second, second))


def order(n: int, total: float) -> str:
    return json.dumps(
        {
            "transaction_id": f"TX-L{n:05d}",
            "store_id": 101 + n % 4,
            "customer_id": f"C-100{n % 5}",
            "timestamp": f"2024-03-{1 + n % 28:02d}T{n % 24:02d}:30:00+01:00",
            "total": total,
            "payment": {"method": "card"},
        }
    )


def items(n: int) -> str:
    return (
        "transaction_id,item_id,quantity,unit_price\n"
        f"TX-L{n:05d},SKU-A,1,1.50\nTX-L{n:05d},SKU-B,{n % 7 + 1},2.25\n"
    )


def land_wave(lake: Path, numbers: range, second: float) -> None:
    for n in numbers:
        # ~400 files per tenth of a second slice share a second; all of a wave share one.
        write(lake, f"landing/transactions/orders/{n // 1000}/o-{n:05d}.json", order(n, n), second)
        write(lake, f"landing/transactions/items/{n // 1000}/i-{n:05d}.csv", items(n), second)


def tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None]:
    sensor = defs.resolve_sensor_def(SENSOR)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=dict(defs.resources or {}), sensor_name=SENSOR
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        assert isinstance(request, dg.AddDynamicPartitionsRequest)
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return list(result.run_requests or []), result.cursor


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, requests: list) -> None:
    job = defs.resolve_job_def(JOB)
    for request in requests:
        tags = {**request.tags, "dagster/sensor_name": SENSOR, "dagster/run_key": request.run_key}
        result = job.execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=tags
        )
        assert result.success


def test_thousands_of_files_between_ticks_each_processed_once(lake: Path) -> None:
    defs = build_definitions(settings.Deployment.LOCAL)
    instance = dg.DagsterInstance.ephemeral()
    started = time.monotonic()
    requests, cursor = tick(defs, instance, None)
    assert requests == []

    land_wave(lake, range(0, FILES // 2), SECOND)
    requests, cursor = tick(defs, instance, cursor)
    assert len(requests) == 1  # 5,000 versions: one batch
    execute(defs, instance, requests)

    # The second wave lands in the very second of the cursor's high-water mark, with
    # re-uploads: 200 orders at the same key with a new total, 100 under another key.
    land_wave(lake, range(FILES // 2, FILES), SECOND)
    for n in range(0, 200):
        write(
            lake,
            f"landing/transactions/orders/{n // 1000}/o-{n:05d}.json",
            order(n, -n),
            SECOND + 1,
        )
    for n in range(200, 300):
        write(lake, f"landing/transactions/orders/again/o-{n:05d}.json", order(n, -n), SECOND + 1)
    requests, cursor = tick(defs, instance, cursor)
    assert len(requests) == 1
    execute(defs, instance, requests)
    elapsed = time.monotonic() - started

    assert tick(defs, instance, cursor)[0] == []  # the next tick
    assert tick(defs, instance, None)[0] == []  # a fresh cursor (`lakehouse run`)

    frame = pd.read_parquet(lake / "data-lakehouse-silver" / "transactions" / "enriched")
    assert len(frame) == 2 * FILES
    assert not frame.duplicated(["transaction_id", "item_id"]).any()
    assert set(frame.transaction_id) == {f"TX-L{n:05d}" for n in range(FILES)}
    totals = frame.drop_duplicates("transaction_id").set_index("transaction_id")["total"]
    assert all(totals[f"TX-L{n:05d}"] == (-n if n < 300 else n) for n in range(FILES))
    moved = frame[frame.transaction_id == "TX-L00250"]
    assert set(moved._order_file) == {"landing/transactions/orders/again/o-00250.json"}
    assert len(instance.get_runs()) == 2
    minutes = elapsed / 60
    print(
        f"\n{FILES} order + {FILES} item files (+300 re-uploads): {elapsed:.1f}s for 2 ticks "
        f"and 2 runs, {FILES / minutes:,.0f} transactions/minute"
    )
    assert elapsed < 60


def test_a_manifest_of_a_failed_tick_is_requested_again_and_batched_once(lake: Path) -> None:
    defs = build_definitions(settings.Deployment.LOCAL)
    instance = dg.DagsterInstance.ephemeral()
    land_wave(lake, range(0, 30), SECOND)
    first, cursor = tick(defs, instance, None)  # its cursor is lost: the tick "failed"
    (batch,) = [r.run_key for r in first]
    land_wave(lake, range(30, 40), SECOND)
    again, cursor = tick(defs, instance, None)
    keys = [r.run_key for r in again]
    assert keys[0] == batch and len(keys) == 2  # the kept batch, then one of the 10 new files
    execute(defs, instance, again)
    store = LocalObjectStore(lake)
    manifests = [
        json.loads((lake / RAW / "_batches" / "transactions" / f"{b}.json").read_text())
        for b in listed_batches(store, RAW, "transactions")
    ]
    listed = [o["key"] for m in manifests for o in m["objects"]]
    assert len(listed) == len(set(listed)) == 80
    assert BatchCursor.parse(cursor).requested == {batch, keys[1]}
    assert tick(defs, instance, cursor)[0] == []
    frame = pd.read_parquet(lake / "data-lakehouse-silver" / "transactions" / "enriched")
    assert len(frame) == 80 and frame.transaction_id.nunique() == 40
