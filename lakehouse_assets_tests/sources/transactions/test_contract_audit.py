"""Contract audit of ``transactions`` end to end (``lakehouse run`` on the local default) with
inputs the contract allows but the sample does not hold.

Pins: NDJSON / array / single-object order files; objects nested two levels (``a_b_c``);
``embedded_data`` URL-safe without padding, and not JSON (null loyalty, counted); offsets moving
the UTC date across a month and a year boundary; an items CSV with a BOM, CRLF, quoted commas
and newlines, columns in another order and extra columns; items landing before their order; a
re-landed transaction whose date moved leaves its old partition (an emptied partition is
removed, not left as an empty file); an order file without ``transaction_id`` quarantined by
its own name; integer columns int64/Int64 (never float) in pandas and DuckDB. Also the fraud
score rules: the newest event wins however far from the transaction it was logged, a last token
with trailing punctuation still scores; ``last_seen`` as epoch milliseconds or lowercase ``z``.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from lakehouse_assets import settings
from lakehouse_assets.cli import main
from lakehouse_assets.lake.object_store import LocalObjectStore
from lakehouse_assets.sources.transactions.lookups import (
    SampleFraudScoresLookup,
    newest_scores,
    parse_last_seen,
)

RAW = "data-lakehouse-raw"
ENRICHED = Path("data-lakehouse-silver") / "transactions" / "enriched"


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
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
    time.sleep(0.01)  # distinct landing times


def urlsafe_unpadded(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def partitions(lake: Path) -> list[str]:
    return sorted(p.name for p in (lake / ENRICHED).iterdir() if p.name.startswith("date="))


def mine(lake: Path) -> pd.DataFrame:
    frame = pd.read_parquet(lake / ENRICHED)
    return frame[frame.transaction_id.str.startswith("TX-9")].sort_values(
        ["transaction_id", "item_id"], ignore_index=True
    )


# Loyalty with a "?" in the JSON, so the URL-safe alphabet ("_") shows up in the base64.
LOYALTY = {"tier": "platinum??", "points": 7}
NDJSON = (
    json.dumps({"transaction_id": "TX-9001", "store_id": 101, "customer_id": "C-1002",
                "timestamp": "2024-12-31T23:30:00-08:00", "total": 9,
                "shipping": {"address": {"city": "Leeds", "geo": {"lat": 53.8}}},
                "embedded_data": urlsafe_unpadded(LOYALTY)}) + "\n"
    + json.dumps({"transaction_id": "TX-9002", "store_id": 999, "customer_id": "C-0000",
                  "timestamp": "2024-03-01T02:00:00+05:30", "total": 3}) + "\n"
).encode()  # fmt: skip
SINGLE = json.dumps(
    {"transaction_id": "TX-9003", "store_id": 103, "customer_id": "C-1004",
     "timestamp": "2024-06-30T23:59:59Z",
     "embedded_data": base64.b64encode(b"not json").decode()}
).encode()  # fmt: skip
ITEMS = (
    "\ufeffitem_id,unit_price,note,transaction_id,quantity\r\n"
    'SKU-A,1.50,"comma, inside",TX-9001,2\r\n'
    'SKU-B,2.00,"line\r\nbreak",TX-9001,1\r\n'
    "SKU-C,4.00,,TX-9002,3\r\n"
    "SKU-D,5.00,x,TX-9003,1\r\n"
    "SKU-E,6.00,early,TX-9004,1\r\n"
).encode("utf-8")
ARRAY_LATE = json.dumps(
    [{"transaction_id": "TX-9004", "store_id": 102, "customer_id": "C-1001",
      "timestamp": "2024-07-01T00:30:00+01:00"}]
).encode()  # fmt: skip
RELANDED = json.dumps(
    {"transaction_id": "TX-9002", "store_id": 101, "customer_id": "C-1001",
     "timestamp": "2024-03-02T12:00:00Z", "total": 4}
).encode()  # fmt: skip
NO_ID = b'[{"transaction_id": "TX-9100", "timestamp": "2024-03-04T10:00:00Z"}, {"timestamp": "x"}]'


def test_allowed_inputs_end_to_end(lake: Path) -> None:
    land(lake, "landing/transactions/orders/audit/nd.json", NDJSON)
    land(lake, "landing/transactions/orders/audit/single.json", SINGLE)
    land(lake, "landing/transactions/items/audit/items.csv", ITEMS)
    land(lake, "landing/transactions/orders/audit/no-id.json", NO_ID)
    assert main(["run", "--source", "transactions"]) == 0

    frame = mine(lake)
    assert frame[["transaction_id", "item_id"]].values.tolist() == [
        ["TX-9001", "SKU-A"], ["TX-9001", "SKU-B"], ["TX-9002", "SKU-C"], ["TX-9003", "SKU-D"]
    ]  # fmt: skip
    assert frame["date"].astype(str).tolist() == [
        "2025-01-01", "2025-01-01", "2024-02-29", "2024-06-30"
    ]  # fmt: skip
    assert frame["shipping_address_city"].tolist()[:2] == ["Leeds", "Leeds"]
    assert frame["shipping_address_geo_lat"].tolist()[0] == 53.8
    assert frame["loyalty_tier"].tolist()[:2] == ["platinum??", "platinum??"]
    assert frame["loyalty_points"].tolist()[:2] == [7, 7]
    assert frame["loyalty_tier"].isna().tolist()[2:] == [True, True]
    assert frame["note"].tolist()[:2] == ["comma, inside", "line\r\nbreak"]
    # Store 999 and customer C-0000 do not exist: nulls.
    tx2 = frame[frame.transaction_id == "TX-9002"].iloc[0]
    assert pd.isna(tx2["store_name"]) and pd.isna(tx2["customer_last_seen"])
    assert frame["customer_last_seen"].iloc[0] == pd.Timestamp("2024-03-01T08:00:00Z")
    for column in ("fraud_score", "_items_line"):
        assert str(frame[column].dtype) == "int64", column
    for column in ("quantity", "store_id", "loyalty_points", "square_meters"):
        assert str(frame[column].dtype) == "Int64", column
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert [c for c in frame.columns if c.startswith("_")] == [
        "_order_file", "_order_landed_at", "_items_file", "_items_landed_at", "_items_line"
    ]  # fmt: skip

    quarantine = lake / RAW / "quarantine" / "transactions" / "orders" / "audit"
    assert (quarantine / "no-id.json").read_bytes() == NO_ID
    assert "order 2 has no transaction_id" in (quarantine / "no-id.json.reason.json").read_text()

    # TX-9004's order lands after its items; TX-9002 is re-landed on another day.
    land(lake, "landing/transactions/orders/audit/late.json", ARRAY_LATE)
    land(lake, "landing/transactions/orders/audit/again.json", RELANDED)
    assert main(["run", "--source", "transactions"]) == 0
    frame = mine(lake)
    tx2 = frame[frame.transaction_id == "TX-9002"]
    assert len(tx2) == 1
    assert tx2[["date", "total", "store_name"]].astype(str).values.tolist() == [
        ["2024-03-02", "4.0", "Harbourside"]
    ]
    tx4 = frame[frame.transaction_id == "TX-9004"]
    assert tx4[["item_id", "date"]].astype(str).values.tolist() == [["SKU-E", "2024-06-30"]]
    assert "date=2024-02-29" not in partitions(lake)  # emptied by the move: gone
    glob = f"{lake / ENRICHED}/**/*.parquet"
    counted = duckdb.sql(
        f"SELECT CAST(date AS VARCHAR), count(*) FROM read_parquet('{glob}', "
        "hive_partitioning=true) WHERE transaction_id LIKE 'TX-9%' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert counted == [("2024-03-02", 1), ("2024-06-30", 2), ("2025-01-01", 2)]
    types = dict(
        duckdb.sql(
            f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
            f"read_parquet('{glob}', hive_partitioning=true))"
        ).fetchall()
    )
    assert types["quantity"] == "BIGINT" and types["store_id"] == "BIGINT"
    assert types["square_meters"] == "BIGINT"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_fraud_newest_event_anywhere_in_the_group(tmp_path: Path) -> None:
    events = {
        "/g": [
            {"timestamp": ms("2024-03-04T10:00:00+00:00"), "message": "TX-1 score 10"},
            # Logged months later (CloudWatch takes events of the last 14 days only).
            {"timestamp": ms("2025-09-01T10:00:00+00:00"), "message": "TX-1 rescored 20"},
            {"timestamp": ms("2025-09-01T10:00:00+00:00"), "message": "TX-2 score: 42."},
        ]
    }
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events), encoding="utf-8")
    at = datetime(2024, 3, 4, 10, tzinfo=UTC)
    result = SampleFraudScoresLookup(json_file=str(path)).scores(
        {"TX-1": at, "TX-2": at}, log_group="/g"
    )
    assert dict(result.scores) == {"TX-1": 20, "TX-2": 42}


@pytest.mark.parametrize(
    ("message", "score"),
    [("TX-1 score 42.", 42), ("TX-1 score (42)", 42), ("TX-1 score 42;", 42), ("TX-1 n/a", None)],
)
def test_fraud_last_token_punctuation(message: str, score: int | None) -> None:
    result = newest_scores([{"timestamp": 1, "message": message}], {"TX-1"})
    assert result.scores.get("TX-1") == score
    assert ("TX-1" in result.unparseable) == (score is None)


def test_last_seen_forms() -> None:
    moment = datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert parse_last_seen("2024-03-01T08:00:00z") == moment
    assert parse_last_seen("2024-03-01T13:30:00+05:30") == moment
    assert parse_last_seen(1709280000) == moment
    assert parse_last_seen("1709280000") == moment
    assert parse_last_seen(1709280000000) == moment  # epoch milliseconds
