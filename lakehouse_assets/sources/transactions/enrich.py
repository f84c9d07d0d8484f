"""Orders and item lines of a batch → silver ``enriched`` rows (pure: lookups come in as values).

Two steps, so the asset asks the lookups only for what will be published:

1. ``match(orders, items)``: the latest landing of each transaction wins (by landing time, then
   file key, then place in the file), and likewise of each item line, identified by
   ``(transaction_id, item_id)`` — so re-landing a file changes nothing, and lines of an order
   that land later in another file add rows. Orders without lines and lines without their order
   are pending: returned as they came, for the caller to pass in again with the next batch.
2. ``enrich(batch, stores, customers, fraud)``: one row per item line, joined with its order,
   its store's row (every column but the key, under its own name), ``customer_last_seen``,
   ``fraud_score`` (0 without an event), ingestion columns (``_``) and ``date``, the UTC date of
   ``timestamp`` as ``YYYY-MM-DD`` (the partition key).

Columns, in this order: ``transaction_id, timestamp, store_id, customer_id``, the other order
fields sorted by name, ``item_id, quantity, unit_price``, the other item columns sorted, the
store columns in the table's order, ``customer_last_seen, fraud_score``, ``_order_file,
_order_landed_at, _items_file, _items_landed_at, _items_line``, ``date``. A source field whose
name is taken (by an earlier group or one of ours) or starts with ``_`` is prefixed with its
origin (``item_``, ``store_``, ``order_``). Types follow the values: integers int64 (nulls
allowed), other numbers float64, text string, timestamps UTC; mixed types become text. Rows are
ordered by ``date``, transaction id, then the line's landing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from lakehouse_assets.lake.parquet import mark_nullable
from lakehouse_assets.sources.transactions.items import (
    ITEM_ID,
    QUANTITY,
    TRANSACTION_ID,
    UNIT_PRICE,
    ItemLine,
)
from lakehouse_assets.sources.transactions.lookups import (
    CustomerActivity,
    FraudScores,
    StoreTable,
)
from lakehouse_assets.sources.transactions.orders import TIMESTAMP, Order

STORE_ID = "store_id"
CUSTOMER_ID = "customer_id"
CUSTOMER_LAST_SEEN = "customer_last_seen"
FRAUD_SCORE = "fraud_score"
DATE = "date"
ORDER_LEADING = (TRANSACTION_ID, TIMESTAMP, STORE_ID, CUSTOMER_ID)
ITEM_LEADING = (ITEM_ID, QUANTITY, UNIT_PRICE)
INGESTION = ("_order_file", "_order_landed_at", "_items_file", "_items_landed_at", "_items_line")
RESERVED = frozenset({CUSTOMER_LAST_SEEN, FRAUD_SCORE, DATE, *INGESTION})
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Integer columns that never hold nulls (read as int64; every other integer column as Int64).
NEVER_NULL = frozenset({FRAUD_SCORE, "_items_line"})


@dataclass(frozen=True)
class Batch:
    """What a batch publishes (each order with its lines) and what waits."""

    published: Sequence[tuple[Order, Sequence[ItemLine]]]
    pending_orders: Sequence[Order]
    pending_items: Sequence[ItemLine]
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def store_ids(self) -> list[object]:
        return [order.fields.get(STORE_ID) for order, _ in self.published]

    @property
    def customer_ids(self) -> list[object]:
        return [order.fields.get(CUSTOMER_ID) for order, _ in self.published]

    @property
    def transactions(self) -> dict[str, datetime]:
        """Transaction id → timestamp, what the fraud score lookup needs."""
        return {order.transaction_id: order.timestamp for order, _ in self.published}


@dataclass(frozen=True)
class Enriched:
    table: pa.Table
    pending_orders: Sequence[Order]
    pending_items: Sequence[ItemLine]
    counts: Mapping[str, int]

    @property
    def dates(self) -> list[str]:
        """The partitions (UTC dates) the rows fall in."""
        return sorted(set(self.table.column(DATE).to_pylist())) if self.table.num_rows else []


def match(orders: Iterable[Order], items: Iterable[ItemLine]) -> Batch:
    """Latest landing of each transaction and item line; pairs and pending ones."""
    landed_orders = list(orders)
    latest: dict[str, Order] = {}
    for order in sorted(landed_orders, key=lambda o: (o.landed_at, o.file, o.index)):
        latest[order.transaction_id] = order
    landed_items = list(items)
    lines: dict[tuple[str, str], ItemLine] = {}
    for line in sorted(landed_items, key=lambda i: (i.landed_at, i.file, i.line)):
        lines[(line.transaction_id, line.item_id)] = line
    by_transaction: dict[str, list[ItemLine]] = {}
    for line in sorted(lines.values(), key=lambda i: (i.landed_at, i.file, i.line)):
        by_transaction.setdefault(line.transaction_id, []).append(line)
    published = [
        (order, by_transaction[order.transaction_id])
        for order in sorted(latest.values(), key=lambda o: (o.timestamp, o.transaction_id))
        if order.transaction_id in by_transaction
    ]
    pending_orders = [o for o in latest.values() if o.transaction_id not in by_transaction]
    pending_items = [
        line
        for transaction_id, found in by_transaction.items()
        if transaction_id not in latest
        for line in found
    ]
    counts = {
        "orders_landed": len(landed_orders),
        "orders_superseded": len(landed_orders) - len(latest),
        "item_lines_landed": len(landed_items),
        "item_lines_superseded": len(landed_items) - len(lines),
        "transactions_published": len(published),
        "pending_orders": len(pending_orders),
        "pending_item_lines": len(pending_items),
    }
    return Batch(published, pending_orders, pending_items, counts)


def enrich(
    batch: Batch, stores: StoreTable, customers: CustomerActivity, fraud: FraudScores
) -> Enriched:
    """The batch's silver rows, with counts of what was missing."""
    names = _Names()
    order_fields = sorted({k for order, _ in batch.published for k in order.fields})
    order_columns = [
        (names.claim(k, "order_"), k)
        for k in [*ORDER_LEADING, *sorted(set(order_fields) - set(ORDER_LEADING))]
    ]
    item_fields = {k for _, found in batch.published for line in found for k in line.fields}
    item_fields.discard(TRANSACTION_ID)
    item_columns = [
        (names.claim(k, "item_"), k)
        for k in [*ITEM_LEADING, *sorted(item_fields - set(ITEM_LEADING))]
    ]
    store_key = STORE_ID
    store_columns = [(names.claim(k, "store_"), k) for k in stores.columns if k != store_key]

    counts = {
        **batch.counts,
        "missing_store": 0,
        "missing_customer": 0,
        "customer_last_seen_unreadable": 0,
        "no_fraud_event": 0,
        "fraud_score_unparseable": 0,
        "loyalty_undecodable": 0,
    }
    rows: list[dict[str, Any]] = []
    for order, found in batch.published:
        store_id = order.fields.get(STORE_ID)
        store = stores.rows.get(str(store_id)) if store_id is not None else None
        customer_id = order.fields.get(CUSTOMER_ID)
        customer_key = "" if customer_id is None else str(customer_id)
        found_customer = customer_key != "" and customer_key in customers.last_seen
        last_seen = customers.last_seen[customer_key] if found_customer else None
        counts["missing_store"] += store is None
        counts["missing_customer"] += not found_customer
        counts["customer_last_seen_unreadable"] += found_customer and last_seen is None
        counts["no_fraud_event"] += order.transaction_id not in fraud.scores and (
            order.transaction_id not in fraud.unparseable
        )
        counts["fraud_score_unparseable"] += order.transaction_id in fraud.unparseable
        counts["loyalty_undecodable"] += order.loyalty_undecodable
        common: dict[str, Any] = {name: order.fields.get(k) for name, k in order_columns}
        common.update({name: (store or {}).get(k) for name, k in store_columns})
        common[CUSTOMER_LAST_SEEN] = last_seen
        common[FRAUD_SCORE] = fraud.scores.get(order.transaction_id, 0)
        common["_order_file"] = order.file
        common["_order_landed_at"] = order.landed_at
        common[DATE] = order.timestamp.astimezone(UTC).date().isoformat()
        for line in found:
            row = dict(common)
            row.update({name: line.fields.get(k) for name, k in item_columns})
            row["_items_file"] = line.file
            row["_items_landed_at"] = line.landed_at
            row["_items_line"] = line.line
            rows.append(row)
    rows.sort(
        key=lambda r: (
            r[DATE],
            r[TRANSACTION_ID],
            r["_items_landed_at"],
            r["_items_file"],
            r["_items_line"],
        )
    )
    counts["rows"] = len(rows)

    columns = [
        *(name for name, _ in order_columns),
        *(name for name, _ in item_columns),
        *(name for name, _ in store_columns),
        CUSTOMER_LAST_SEEN,
        FRAUD_SCORE,
        *INGESTION,
        DATE,
    ]
    order_names = {k: name for name, k in order_columns}
    item_names = {k: name for name, k in item_columns}
    fixed_types = {
        order_names[TRANSACTION_ID]: pa.string(),
        order_names[TIMESTAMP]: TIMESTAMP_TYPE,
        item_names[ITEM_ID]: pa.string(),
        item_names[QUANTITY]: pa.int64(),
        item_names[UNIT_PRICE]: pa.float64(),
        CUSTOMER_LAST_SEEN: TIMESTAMP_TYPE,
        FRAUD_SCORE: pa.int64(),
        "_order_file": pa.string(),
        "_order_landed_at": TIMESTAMP_TYPE,
        "_items_file": pa.string(),
        "_items_landed_at": TIMESTAMP_TYPE,
        "_items_line": pa.int64(),
        DATE: pa.string(),
    }
    arrays = [_array([row[name] for row in rows], fixed_types.get(name)) for name in columns]
    table = with_pandas_dtypes(pa.Table.from_arrays(arrays, names=columns), NEVER_NULL)
    return Enriched(table, batch.pending_orders, batch.pending_items, counts)


def with_pandas_dtypes(table: pa.Table, never_null: Iterable[str] = ()) -> pa.Table:
    """``table`` whose integer and boolean columns but ``never_null`` read as pandas' nullable
    dtypes (``Int64``, ``boolean``), where a bare Arrow int64 with nulls would read as float64."""
    kept = set(never_null)
    nullable = [
        f.name
        for f in table.schema
        if (pa.types.is_integer(f.type) or pa.types.is_boolean(f.type)) and f.name not in kept
    ]
    return mark_nullable(table, nullable)


class _Names:
    """Output names in the order they are claimed; a taken, reserved or ``_`` name gets its
    origin's prefix (repeatedly, until free)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, name: str, prefix: str) -> str:
        while name in self.taken or name in RESERVED or name.startswith("_"):
            name = prefix + name
        self.taken.add(name)
        return name


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _array(values: list[Any], declared: pa.DataType | None) -> pa.Array:
    """Values → an Arrow array of ``declared`` type, else of the type the values share."""
    kinds = {type(v) for v in values if v is not None}
    if declared is not None:
        if pa.types.is_timestamp(declared):
            values = [_utc(v) if v is not None else None for v in values]
        return pa.array(values, type=declared)
    if not kinds:
        return pa.nulls(len(values), pa.string())
    if kinds == {bool}:
        return pa.array(values, type=pa.bool_())
    if kinds == {int} and all(v is None or INT64_MIN <= v <= INT64_MAX for v in values):
        return pa.array(values, type=pa.int64())
    if kinds <= {int, float, Decimal} and bool not in kinds:
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    if kinds <= {datetime} or all(issubclass(k, datetime) for k in kinds):
        return pa.array([None if v is None else _utc(v) for v in values], type=TIMESTAMP_TYPE)
    if all(issubclass(k, date) and not issubclass(k, datetime) for k in kinds):
        return pa.array(values, type=pa.date32())
    return pa.array([None if v is None else _as_text(v) for v in values], type=pa.string())


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
