"""The transactions pipeline end to end on the local default, through ``lakehouse run``.

Pins: the packaged sample (plus a broken JSON file and an order without ``timestamp``, both
quarantined with their reasons) → silver ``enriched`` Hive partitions ``date=YYYY-MM-DD``,
read back with pandas and with a DuckDB glob, row by row against values worked out by hand
from the sample files (loyalty decoded, nested fields flattened with ``_``, a missing store or
customer → nulls, no fraud event → 0, two events → the newest, a re-uploaded transaction → its
latest landing, offsets moving the UTC date); pending orders and items listed; a second
``lakehouse run`` processes nothing and a sensor tick after it requests nothing; items landing
in a later batch publish the order that waited; running a batch again changes no byte.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from lakehouse_assets import settings
from lakehouse_assets.cli import main
from lakehouse_assets.lake.object_store import LocalObjectStore

RAW = "data-lakehouse-raw"
SILVER = "data-lakehouse-silver"
ENRICHED = Path(SILVER) / "transactions" / "enriched"
SENSOR = "landing__transactions__batches_sensor"
BROKEN = b'{"transaction_id": "TX-2001", "timestamp": "2024-03-06T10:00:00Z",'
NO_TIMESTAMP = b'{"transaction_id": "TX-2002", "store_id": 101}\n'
LATE_ITEMS = b"transaction_id,item_id,quantity,unit_price,description,category\nTX-1006,SKU-5,2,2.00,Scone,bakery\n"  # noqa: E501


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


#: From the sample files: (transaction, item) → the values silver must hold.
EXPECTED = {
    ("TX-1001", "SKU-1"): dict(date="2024-03-04", timestamp=utc("2024-03-04T10:15:00Z"),
        store_name="Harbourside", customer_last_seen=utc("2024-03-01T09:15:00Z"), fraud_score=12,
        loyalty_tier="gold", loyalty_points=1200, payment_method="card",
        payment_card_scheme="visa", total=23.5, quantity=2, unit_price=3.5),
    ("TX-1001", "SKU-7"): dict(date="2024-03-04", timestamp=utc("2024-03-04T10:15:00Z"),
        store_name="Harbourside", customer_last_seen=utc("2024-03-01T09:15:00Z"), fraud_score=12,
        loyalty_tier="gold", loyalty_points=1200, payment_method="card",
        payment_card_scheme="visa", total=23.5, quantity=1, unit_price=16.5),
    # Store 104 and customer C-1099 do not exist; embedded_data is not base64.
    ("TX-1003", "SKU-3"): dict(date="2024-03-04", timestamp=utc("2024-03-04T12:00:00Z"),
        store_name=None, customer_last_seen=None, fraud_score=88, loyalty_tier=None,
        loyalty_points=None, payment_method="card", payment_card_scheme="amex", total=6.75,
        quantity=3, unit_price=2.25),
    # 01:30+02:00 on the 5th is the 4th in UTC; no fraud event → 0.
    ("TX-1004", "SKU-9"): dict(date="2024-03-04", timestamp=utc("2024-03-04T23:30:00Z"),
        store_name="Old Town", customer_last_seen=utc("2024-03-02T17:00:00Z"), fraud_score=0,
        loyalty_tier=None, loyalty_points=None, payment_method="card",
        payment_card_scheme="mastercard", total=12.0, quantity=1, unit_price=12.0),
    # Re-uploaded: the later landing (total 4.5, card, 160 points) wins; 23:30-05:00 on the 4th
    # is the 5th in UTC; two fraud events → the newer ("rescored 7").
    ("TX-1002", "SKU-1"): dict(date="2024-03-05", timestamp=utc("2024-03-05T04:30:00Z"),
        store_name="Northern Quarter", customer_last_seen=utc("2024-03-01T08:00:00Z"),
        fraud_score=7, loyalty_tier="silver", loyalty_points=160, payment_method="card",
        payment_card_scheme="visa", total=4.5, quantity=1, unit_price=4.5),
    # The newest fraud event ends in "n/a": 0. last_seen "1709370000.5" is epoch seconds.
    ("TX-1005", "SKU-4"): dict(date="2024-03-05", timestamp=utc("2024-03-05T08:00:00Z"),
        store_name="Harbourside", customer_last_seen=utc("2024-03-02T09:00:00.500000Z"),
        fraud_score=0, loyalty_tier="bronze", loyalty_points=20, payment_method="voucher",
        payment_card_scheme=None, total=11.0, quantity=2, unit_price=3.0),
    ("TX-1005", "SKU-8"): dict(date="2024-03-05", timestamp=utc("2024-03-05T08:00:00Z"),
        store_name="Harbourside", customer_last_seen=utc("2024-03-02T09:00:00.500000Z"),
        fraud_score=0, loyalty_tier="bronze", loyalty_points=20, payment_method="voucher",
        payment_card_scheme=None, total=11.0, quantity=1, unit_price=5.0),
}  # fmt: skip
#: Items of TX-1006 land in a later batch; its fraud event says 3, customer C-1001.
LATE_ROW = dict(date="2024-03-05", timestamp=utc("2024-03-05T09:45:00Z"),
    store_name="Northern Quarter", customer_last_seen=utc("2024-03-01T09:15:00Z"), fraud_score=3,
    loyalty_tier=None, loyalty_points=None, payment_method="cash", payment_card_scheme=None,
    total=4.0, quantity=2, unit_price=2.0)  # fmt: skip


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The local default (packaged parameters and samples) with its lake and Dagster home here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(settings.ROOT_VAR, str(tmp_path / "lake"))
    monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
    monkeypatch.delenv(settings.PARAMETERS_FILE_VAR, raising=False)
    return tmp_path / "lake"


def land(lake: Path, key: str, body: bytes) -> None:
    source = lake.parent / "upload.tmp"
    source.write_bytes(body)
    LocalObjectStore(lake).put_file(RAW, key, source)


def rows(frame: pd.DataFrame) -> dict[tuple[str, str], dict[str, object]]:
    """Silver rows by (transaction, item), with the compared columns as Python values."""
    columns = list(LATE_ROW)
    found = {}
    for record in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        values = {c: record[c] for c in columns}
        values["date"] = str(values["date"])
        values["timestamp"] = pd.Timestamp(values["timestamp"]).to_pydatetime()
        if values["customer_last_seen"] is not None:
            values["customer_last_seen"] = pd.Timestamp(
                values["customer_last_seen"]
            ).to_pydatetime()
        key = (record["transaction_id"], record["item_id"])
        assert key not in found, f"{key} twice"
        found[key] = values
    return found


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def silver_metadata(instance: dg.DagsterInstance) -> list[dict[str, object]]:
    records = instance.fetch_materializations(
        dg.AssetKey(["silver", "transactions", "enriched"]), limit=100
    ).records
    events = [r.asset_materialization for r in reversed(records)]
    return [{k: v.value for k, v in e.metadata.items()} for e in events if e is not None]


def sensor_requests(instance: dg.DagsterInstance, cursor: str | None = None) -> list[str]:
    from lakehouse_assets.definitions import build_definitions

    defs = build_definitions(settings.Deployment.LOCAL)
    sensor = defs.resolve_sensor_def(SENSOR)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=dict(defs.resources or {}), sensor_name=SENSOR
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return [r.run_key or "" for r in result.run_requests or []]


def test_sample_through_lakehouse_run(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    land(lake, "landing/transactions/orders/bad/broken.json", BROKEN)
    land(lake, "landing/transactions/orders/bad/no-timestamp.json", NO_TIMESTAMP)
    assert main(["run", "--source", "transactions"]) == 0
    assert "transactions: 1 run(s) for what has landed" in capsys.readouterr().out

    partitions = sorted(p.name for p in (lake / ENRICHED).iterdir())
    assert partitions == ["date=2024-03-04", "date=2024-03-05"]
    frame = pd.read_parquet(lake / ENRICHED)
    assert rows(frame) == EXPECTED
    assert str(frame["loyalty_points"].dtype) == "Int64"
    assert str(frame["fraud_score"].dtype) == "int64"
    assert frame.loc[frame.transaction_id == "TX-1005", "loyalty_referral_code"].tolist() == [
        "SPRING",
        "SPRING",
    ]
    assert frame.loc[frame.transaction_id == "TX-1001", "payment_card_scheme"].iloc[0] == "visa"
    glob = f"{lake / ENRICHED}/**/*.parquet"
    by_day = duckdb.sql(
        f"SELECT CAST(date AS VARCHAR), count(*), count(DISTINCT transaction_id) "
        f"FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert by_day == [("2024-03-04", 4, 3), ("2024-03-05", 3, 2)]

    quarantine = lake / RAW / "quarantine" / "transactions" / "orders" / "bad"
    assert (quarantine / "broken.json").read_bytes() == BROKEN
    reasons = {p.name: p.read_text(encoding="utf-8") for p in quarantine.glob("*.reason.json")}
    assert "not valid JSON at line 1" in reasons["broken.json.reason.json"]
    assert "order 1 (TX-2002) has no timestamp" in reasons["no-timestamp.json.reason.json"]

    with dg.DagsterInstance.get() as instance:
        (first,) = silver_metadata(instance)
        assert first["pending_orders_listed"] == ["TX-1006"]
        assert first["pending_items_listed"] == ["TX-1999/SKU-2"]
        assert (first["missing_store"], first["missing_customer"]) == (1, 1)
        assert first["partitions_written"] == ["date=2024-03-04", "date=2024-03-05"]
        assert (first["store_queries"], first["customer_calls"]) == (1, 1)
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].tags["dagster/sensor_name"] == SENSOR
    before = digests(lake / SILVER)

    # A second run finds nothing new, and neither does a sensor tick (daemon cursor or fresh).
    assert main(["run", "--source", "transactions"]) == 0
    assert "transactions: nothing new has landed" in capsys.readouterr().out
    assert digests(lake / SILVER) == before
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == 1
        assert sensor_requests(instance) == []

    # TX-1006's items land later: it is published, and nothing else moves.
    land(lake, "landing/transactions/items/2024-03-06/items-0003.csv", LATE_ITEMS)
    assert main(["run", "--source", "transactions"]) == 0
    frame = pd.read_parquet(lake / ENRICHED)
    assert rows(frame) == {**EXPECTED, ("TX-1006", "SKU-5"): LATE_ROW}
    after = digests(lake / SILVER)
    day_4 = "transactions/enriched/date=2024-03-04/data.parquet"
    assert after[day_4] == before[day_4]  # not rewritten
    with dg.DagsterInstance.get() as instance:
        second = silver_metadata(instance)[-1]
        assert second["pending_orders_listed"] == []
        assert second["pending_items_listed"] == ["TX-1999/SKU-2"]
        assert second["partitions_written"] == ["date=2024-03-05"]
        runs = instance.get_runs()
        assert len(runs) == 2
        batches = sorted(r.tags["dagster/run_key"] for r in runs)

    # Running the first batch again (as `dagster asset materialize --partition` would) changes
    # no byte of silver.
    from lakehouse_assets.definitions import build_definitions

    job = build_definitions(settings.Deployment.LOCAL).resolve_job_def(
        "landing__transactions__batches_job"
    )
    with dg.DagsterInstance.get() as instance:
        assert job.execute_in_process(instance=instance, partition_key=batches[0]).success
    assert digests(lake / SILVER) == after
