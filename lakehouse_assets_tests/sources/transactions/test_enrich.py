"""Enrichment: orders × item lines × lookups → silver ``enriched`` rows, checked value by value.

Pins, against rows written out by hand: one row per item line; the latest landing of a
re-uploaded transaction wins; an order whose items land in a later batch is pending, then
published (and items without their order likewise); loyalty fields and ``_`` flattening reach
the row; a missing store or customer gives nulls and is counted; no fraud event scores 0, two
events the newest; an offset moves the UTC ``date``; the column order and types (nullable
integers read back from Parquet as ``Int64``). Then the packaged sample, end to end through the
local lookups.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.sources.transactions.enrich import enrich, match
from lakehouse_assets.sources.transactions.items import ItemLine, parse_items
from lakehouse_assets.sources.transactions.lookups import (
    SAMPLE_DIR,
    CustomerActivity,
    FraudScores,
    SampleCustomersLookup,
    SampleFraudScoresLookup,
    SampleStoresLookup,
    StoreTable,
    newest_scores,
)
from lakehouse_assets.sources.transactions.orders import Order, parse_orders

T1 = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
T2 = datetime(2024, 3, 5, 13, 0, tzinfo=UTC)
T3 = datetime(2024, 3, 6, 9, 0, tzinfo=UTC)


def b64(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def order_file(key: str, landed: datetime, *orders: dict) -> list[Order]:
    body = "\n".join(json.dumps(o) for o in orders).encode()
    return parse_orders(body, file=key, landed_at=landed)


def items_file(key: str, landed: datetime, *lines: str) -> list[ItemLine]:
    body = ("transaction_id,item_id,quantity,unit_price,colour\n" + "\n".join(lines)).encode()
    return parse_items(body, file=key, landed_at=landed)


STORES = StoreTable(
    columns=("store_id", "store_name", "city"),
    rows={
        "1": {"store_id": 1, "store_name": "Harbourside", "city": "Bristol"},
        "2": {"store_id": 2, "store_name": "Old Town", "city": None},
    },
)
CUSTOMERS = CustomerActivity(
    {
        "C-1": datetime(2024, 3, 1, 9, 0, tzinfo=UTC),
        "C-2": None,  # found, without a readable last_seen
    }
)
EVENTS = [
    {"timestamp": 1_709_616_000_000, "message": "score T-1 40"},
    {"timestamp": 1_709_616_600_000, "message": "rescore T-1 7"},  # newer: wins
    {"timestamp": 1_709_615_000_000, "message": "score T-3 15"},
    {"timestamp": 1_709_615_000_001, "message": "unrelated 99"},
]

FIRST_ORDERS = order_file(
    "orders/a.json",
    T1,
    {
        "transaction_id": "T-1",
        "store_id": 1,
        "customer_id": "C-1",
        "timestamp": "2024-03-04T23:30:00-05:00",  # 2024-03-05 in UTC
        "total": 9.5,
        "payment": {"method": "card"},
        "embedded_data": b64({"tier": "gold", "points": 12}),
    },
    {
        "transaction_id": "T-2",
        "store_id": 9,  # not in stores
        "customer_id": "C-9",  # not in customers
        "timestamp": "2024-03-04T10:00:00Z",
        "total": 2.0,
        "payment": {"method": "cash"},
        "embedded_data": "%%%",  # undecodable: null loyalty fields, counted
    },
    {
        "transaction_id": "T-3",
        "store_id": 2,
        "customer_id": "C-2",
        "timestamp": "2024-03-05T01:00:00+02:00",  # 2024-03-04 in UTC
        "total": 1.0,
    },
)
REUPLOAD = order_file(
    "orders/b.json",
    T2,
    {
        "transaction_id": "T-1",
        "store_id": 1,
        "customer_id": "C-1",
        "timestamp": "2024-03-04T23:30:00-05:00",
        "total": 10.5,  # corrected: the latest landing wins
        "payment": {"method": "card"},
        "embedded_data": b64({"tier": "gold", "points": 13}),
    },
)
FIRST_ITEMS = items_file(
    "items/x.csv",
    T1,
    "T-1,SKU-1,2,3.25,red",
    "T-1,SKU-2,1,3.00,",
    "T-2,SKU-3,4,0.50,blue",
    "T-4,SKU-5,1,1.00,green",  # no order yet
)
LATER_ITEMS = items_file("items/y.csv", T3, "T-3,SKU-7,3,0.25,black")
LATER_ORDERS = order_file(
    "orders/c.json",
    T3,
    {
        "transaction_id": "T-4",
        "store_id": 2,
        "customer_id": "C-1",
        "timestamp": "2024-03-05T23:59:59Z",
        "total": 1.0,
    },
)

COLUMNS = [
    "transaction_id", "timestamp", "store_id", "customer_id",
    "embedded_data", "loyalty_points", "loyalty_tier", "payment_method", "total",
    "item_id", "quantity", "unit_price", "colour",
    "store_name", "city",
    "customer_last_seen", "fraud_score",
    "_order_file", "_order_landed_at", "_items_file", "_items_landed_at", "_items_line",
    "date",
]  # fmt: skip


def row(**values: object) -> dict[str, object]:
    return {column: values.get(column) for column in COLUMNS}


def t2_row() -> dict[str, object]:
    return row(
        transaction_id="T-2", timestamp=datetime(2024, 3, 4, 10, 0, tzinfo=UTC), store_id=9,
        customer_id="C-9", embedded_data="%%%", payment_method="cash", total=2.0,
        item_id="SKU-3", quantity=4, unit_price=0.5, colour="blue", fraud_score=0,
        _order_file="orders/a.json", _order_landed_at=T1, _items_file="items/x.csv",
        _items_landed_at=T1, _items_line=4, date="2024-03-04",
    )  # fmt: skip


def t1_rows() -> list[dict[str, object]]:
    common = dict(
        transaction_id="T-1", timestamp=datetime(2024, 3, 5, 4, 30, tzinfo=UTC), store_id=1,
        customer_id="C-1", embedded_data=REUPLOAD[0].fields["embedded_data"],
        loyalty_points=13, loyalty_tier="gold", payment_method="card", total=10.5,
        store_name="Harbourside", city="Bristol",
        customer_last_seen=datetime(2024, 3, 1, 9, 0, tzinfo=UTC), fraud_score=7,
        _order_file="orders/b.json", _order_landed_at=T2, _items_file="items/x.csv",
        _items_landed_at=T1, date="2024-03-05",
    )  # fmt: skip
    return [
        row(**common, item_id="SKU-1", quantity=2, unit_price=3.25, colour="red", _items_line=2),
        row(**common, item_id="SKU-2", quantity=1, unit_price=3.0, colour=None, _items_line=3),
    ]


def run(orders: list[Order], items: list[ItemLine]):  # type: ignore[no-untyped-def]
    batch = match(orders, items)
    fraud = newest_scores(EVENTS, set(batch.transactions))
    return enrich(batch, STORES, CUSTOMERS, fraud)


def test_first_batch_rows_pending_and_counts() -> None:
    result = run(FIRST_ORDERS + REUPLOAD, FIRST_ITEMS)
    assert result.table.column_names == COLUMNS
    assert result.table.to_pylist() == [t2_row(), *t1_rows()]
    assert [o.transaction_id for o in result.pending_orders] == ["T-3"]
    assert [(i.transaction_id, i.item_id) for i in result.pending_items] == [("T-4", "SKU-5")]
    assert result.dates == ["2024-03-04", "2024-03-05"]
    assert result.counts == {
        "orders_landed": 4,
        "orders_superseded": 1,
        "item_lines_landed": 4,
        "item_lines_superseded": 0,
        "transactions_published": 2,
        "pending_orders": 1,
        "pending_item_lines": 1,
        "missing_store": 1,
        "missing_customer": 1,
        "customer_last_seen_unreadable": 0,
        "no_fraud_event": 1,
        "fraud_score_unparseable": 0,
        "loyalty_undecodable": 1,
        "rows": 3,
    }


def test_pending_orders_and_items_are_published_when_their_other_half_lands() -> None:
    first = run(FIRST_ORDERS + REUPLOAD, FIRST_ITEMS)
    second = run([*first.pending_orders, *LATER_ORDERS], [*first.pending_items, *LATER_ITEMS])
    assert second.pending_orders == [] and second.pending_items == []
    t3 = row(
        transaction_id="T-3", timestamp=datetime(2024, 3, 4, 23, 0, tzinfo=UTC), store_id=2,
        customer_id="C-2", total=1.0, item_id="SKU-7", quantity=3, unit_price=0.25,
        colour="black", store_name="Old Town", customer_last_seen=None, fraud_score=15,
        _order_file="orders/a.json", _order_landed_at=T1, _items_file="items/y.csv",
        _items_landed_at=T3, _items_line=2, date="2024-03-04",
    )  # fmt: skip
    t4 = row(
        transaction_id="T-4", timestamp=datetime(2024, 3, 5, 23, 59, 59, tzinfo=UTC),
        store_id=2, customer_id="C-1", total=1.0, item_id="SKU-5", quantity=1,
        unit_price=1.0, colour="green", store_name="Old Town",
        customer_last_seen=datetime(2024, 3, 1, 9, 0, tzinfo=UTC), fraud_score=0,
        _order_file="orders/c.json", _order_landed_at=T3, _items_file="items/x.csv",
        _items_landed_at=T1, _items_line=5, date="2024-03-05",
    )  # fmt: skip
    # This batch's orders carry no loyalty or payment fields: those columns are absent.
    expected = [
        {k: v for k, v in r.items() if not k.startswith(("loyalty_", "payment_", "embedded"))}
        for r in (t3, t4)
    ]
    assert second.table.to_pylist() == expected
    assert second.counts["customer_last_seen_unreadable"] == 1
    assert second.counts["missing_customer"] == 0

    # Everything at once (the silver rebuild from raw) gives the union of both batches.
    everything = run(FIRST_ORDERS + REUPLOAD + LATER_ORDERS, FIRST_ITEMS + LATER_ITEMS)
    by_key = {(r["transaction_id"], r["item_id"]): r for r in everything.table.to_pylist()}
    assert sorted(by_key) == [
        ("T-1", "SKU-1"), ("T-1", "SKU-2"), ("T-2", "SKU-3"), ("T-3", "SKU-7"), ("T-4", "SKU-5")
    ]  # fmt: skip
    assert by_key[("T-3", "SKU-7")]["fraud_score"] == 15


def test_landing_again_changes_nothing_and_later_lines_add_rows() -> None:
    once = run(FIRST_ORDERS + REUPLOAD, FIRST_ITEMS)
    twice = run(FIRST_ORDERS + REUPLOAD + FIRST_ORDERS, FIRST_ITEMS + FIRST_ITEMS)
    assert twice.table.to_pylist() == once.table.to_pylist()
    assert twice.counts["orders_superseded"] == 4
    more = items_file("items/z.csv", T3, "T-1,SKU-9,1,1.00,white", "T-1,SKU-1,5,3.25,red")
    grown = run(FIRST_ORDERS + REUPLOAD, FIRST_ITEMS + more)
    lines = [(r["item_id"], r["quantity"], r["_items_file"]) for r in grown.table.to_pylist()
             if r["transaction_id"] == "T-1"]  # fmt: skip
    # SKU-1 landed again later: that line wins; SKU-9 is a new line of the same order.
    assert lines == [("SKU-2", 1, "items/x.csv"), ("SKU-9", 1, "items/z.csv"),
                     ("SKU-1", 5, "items/z.csv")]  # fmt: skip


def test_types_and_parquet_dtypes(tmp_path: Path) -> None:
    table = run(FIRST_ORDERS + REUPLOAD, FIRST_ITEMS).table
    schema = table.schema
    utc = pa.timestamp("us", tz="UTC")
    assert {name: str(schema.field(name).type) for name in COLUMNS} == {
        "transaction_id": "string", "timestamp": str(utc), "store_id": "int64",
        "customer_id": "string", "embedded_data": "string", "loyalty_points": "int64",
        "loyalty_tier": "string", "payment_method": "string", "total": "double",
        "item_id": "string", "quantity": "int64", "unit_price": "double", "colour": "string",
        "store_name": "string", "city": "string", "customer_last_seen": str(utc),
        "fraud_score": "int64", "_order_file": "string", "_order_landed_at": str(utc),
        "_items_file": "string", "_items_landed_at": str(utc), "_items_line": "int64",
        "date": "string",
    }  # fmt: skip
    pq.write_table(table, tmp_path / "part.parquet")
    dtypes = pd.read_parquet(tmp_path / "part.parquet").dtypes.astype(str).to_dict()
    assert dtypes["loyalty_points"] == "Int64"
    assert dtypes["store_id"] == "Int64"
    assert dtypes["quantity"] == "Int64"
    assert dtypes["fraud_score"] == "int64"
    assert dtypes["_items_line"] == "int64"
    assert dtypes["timestamp"] == "datetime64[us, UTC]"


def test_source_fields_never_take_our_names() -> None:
    orders = order_file(
        "orders/n.json", T1,
        {"transaction_id": "T-9", "timestamp": "2024-03-04T10:00:00Z", "store_id": 1,
         "date": "yesterday", "_id": "x", "city": "order city", "colour": "order colour"},
    )  # fmt: skip
    result = enrich(
        match(orders, items_file("items/n.csv", T1, "T-9,SKU-1,1,1.0,red")),
        STORES, CustomerActivity({}), FraudScores({}),
    )  # fmt: skip
    [only] = result.table.to_pylist()
    assert only["date"] == "2024-03-04"
    assert (only["order_date"], only["order__id"]) == ("yesterday", "x")
    assert (only["city"], only["store_city"]) == ("order city", "Bristol")
    assert (only["colour"], only["item_colour"]) == ("order colour", "red")


def test_packaged_sample_end_to_end_through_the_local_lookups() -> None:
    landing = SAMPLE_DIR / "landing"
    orders: list[Order] = []
    items: list[ItemLine] = []
    # Landing order = file name order (the re-upload lands last).
    for minute, path in enumerate(sorted(landing.rglob("*.json"), key=lambda p: p.name)):
        landed = datetime(2024, 3, 5, 12, minute, tzinfo=UTC)
        orders += parse_orders(path.read_bytes(), file=path.name, landed_at=landed)
    for minute, path in enumerate(sorted(landing.rglob("*.csv"), key=lambda p: p.name)):
        landed = datetime(2024, 3, 5, 12, minute, tzinfo=UTC)
        items += parse_items(path.read_bytes(), file=path.name, landed_at=landed)
    batch = match(orders, items)
    stores = SampleStoresLookup().stores(batch.store_ids, secret_id="unused")
    customers = SampleCustomersLookup().activity(batch.customer_ids, table="customer-activity")
    fraud = SampleFraudScoresLookup().scores(batch.transactions, log_group="/lab/tx-fraud-score")
    result = enrich(batch, stores, customers, fraud)
    rows = result.table.to_pylist()
    summary = [
        (r["date"], r["transaction_id"], r["item_id"], r["store_name"], r["fraud_score"],
         r["loyalty_tier"], r["total"])
        for r in rows
    ]  # fmt: skip
    assert summary == [
        ("2024-03-04", "TX-1001", "SKU-1", "Harbourside", 12, "gold", 23.5),
        ("2024-03-04", "TX-1001", "SKU-7", "Harbourside", 12, "gold", 23.5),
        ("2024-03-04", "TX-1003", "SKU-3", None, 88, None, 6.75),
        ("2024-03-04", "TX-1004", "SKU-9", "Old Town", 0, None, 12.0),
        ("2024-03-05", "TX-1002", "SKU-1", "Northern Quarter", 7, "silver", 4.5),
        ("2024-03-05", "TX-1005", "SKU-4", "Harbourside", 0, "bronze", 11.0),
        ("2024-03-05", "TX-1005", "SKU-8", "Harbourside", 0, "bronze", 11.0),
    ]
    assert {r["_items_file"] for r in rows if r["transaction_id"] == "TX-1005"} == {
        "items-0002.csv"
    }
    assert rows[4]["_order_file"] == "orders-0003-reupload.json"
    assert rows[5]["customer_last_seen"] == datetime(2024, 3, 2, 9, 0, 0, 500000, tzinfo=UTC)
    assert [o.transaction_id for o in result.pending_orders] == ["TX-1006"]
    assert [i.transaction_id for i in result.pending_items] == ["TX-1999"]
    assert {k: result.counts[k] for k in ("missing_store", "missing_customer",
            "no_fraud_event", "fraud_score_unparseable", "loyalty_undecodable",
            "orders_superseded")} == dict.fromkeys(
        ("missing_store", "missing_customer", "no_fraud_event", "fraud_score_unparseable",
         "loyalty_undecodable", "orders_superseded"), 1)  # fmt: skip
    assert sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file()) < 8000
