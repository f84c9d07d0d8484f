"""How a batch of landed orders and items becomes silver ``enriched``: bronze records, the state
kept between batches, and the date partitions a batch replaces.

Bronze keeps every landed order and item line of a batch as a record: its key columns, every
field (flattened, loyalty decoded) as JSON text in ``fields``, and where and when it landed. A
record turns back into the ``Order`` / ``ItemLine`` it was, so later batches can match it.

The **state** (one Parquet object, ``{source}/_state/enriched/state.parquet`` in the silver
bucket, replaced atomically) holds the winning landing of every transaction's order and of every
item line seen so far — published and pending alike — and, in its metadata, the silver table's
schema. A batch:

1. takes from the state the records of the transaction ids it touches (orders or lines), adds
   its own, and lets ``enrich.match`` pick the latest landing of each: published transactions
   (an order with lines) and pending ones (an order without lines, lines without an order);
2. enriches only the published ones of those ids (lookups per batch, never per transaction);
3. rebuilds each date partition those ids were or now are in: the partition's other rows kept
   as they were, these ids' rows replaced. A re-landed order whose timestamp moved leaves its
   old day and joins the new one; the same landing twice gives the same rows (and a partition
   whose content would not change is not written);
4. replaces the state last. A run failing before that left it as it was, and running the batch
   again gives the same result: partitions it had already replaced are rewritten identically.

Schema: batches bring different fields (an order with ``loyalty_referral_code``, a ``total``
that is 12 in one file and 12.5 in another). The state keeps the table's schema: columns in
first-seen order (a new column goes after the column it follows in its batch), types widened
(int64 + float64 → float64, other mixes → string; a column seen only as nulls takes the first
real type). When a batch changes the schema every partition is rewritten to it, so the files
never disagree (a dataset with ``id`` int in one file and string in another cannot be read).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_assets.sources.transactions.enrich import (
    DATE,
    NEVER_NULL,
    TIMESTAMP_TYPE,
    Batch,
    match,
    with_pandas_dtypes,
)
from lakehouse_assets.sources.transactions.items import ItemLine
from lakehouse_assets.sources.transactions.orders import TIMESTAMP, Order

SCHEMA_METADATA = b"lakehouse.transactions.silver_schema"
ORDER, ITEM = "order", "item"

BRONZE_ORDERS = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("timestamp", TIMESTAMP_TYPE),
        ("fields", pa.string()),
        ("_file", pa.string()),
        ("_etag", pa.string()),
        ("_landed_at", TIMESTAMP_TYPE),
        ("_index", pa.int64()),
        ("_loyalty_undecodable", pa.bool_()),
        ("_batch", pa.string()),
    ]
)
BRONZE_ITEMS = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("item_id", pa.string()),
        ("fields", pa.string()),
        ("_file", pa.string()),
        ("_etag", pa.string()),
        ("_landed_at", TIMESTAMP_TYPE),
        ("_line", pa.int64()),
        ("_batch", pa.string()),
    ]
)
STATE = pa.schema(
    [
        ("kind", pa.string()),
        ("transaction_id", pa.string()),
        ("item_id", pa.string()),
        ("timestamp", TIMESTAMP_TYPE),
        ("fields", pa.string()),
        ("file", pa.string()),
        ("etag", pa.string()),
        ("landed_at", TIMESTAMP_TYPE),
        ("position", pa.int64()),
        ("loyalty_undecodable", pa.bool_()),
    ]
)
#: Rows within a partition: by transaction, then the line's landing (as ``enrich`` orders them).
ROW_ORDER = [
    ("transaction_id", "ascending"),
    ("_items_landed_at", "ascending"),
    ("_items_file", "ascending"),
    ("_items_line", "ascending"),
]


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _dumps(fields: Mapping[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, default=_json_default)


# --- bronze records ---------------------------------------------------------------------------


def bronze_orders(orders: Sequence[Order], etags: Mapping[str, str], batch: str) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "transaction_id": o.transaction_id,
                "timestamp": o.timestamp,
                "fields": _dumps(o.fields),
                "_file": o.file,
                "_etag": etags.get(o.file, ""),
                "_landed_at": o.landed_at,
                "_index": o.index,
                "_loyalty_undecodable": o.loyalty_undecodable,
                "_batch": batch,
            }
            for o in orders
        ],
        schema=BRONZE_ORDERS,
    )


def bronze_items(items: Sequence[ItemLine], etags: Mapping[str, str], batch: str) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "transaction_id": i.transaction_id,
                "item_id": i.item_id,
                "fields": _dumps(i.fields),
                "_file": i.file,
                "_etag": etags.get(i.file, ""),
                "_landed_at": i.landed_at,
                "_line": i.line,
                "_batch": batch,
            }
            for i in items
        ],
        schema=BRONZE_ITEMS,
    )


def orders_of_bronze(table: pa.Table) -> list[Order]:
    return [
        _order(
            r["transaction_id"],
            r["timestamp"],
            r["fields"],
            r["_file"],
            r["_landed_at"],
            r["_index"],
            r["_loyalty_undecodable"],
        )
        for r in table.to_pylist()
    ]


def items_of_bronze(table: pa.Table) -> list[ItemLine]:
    return [
        ItemLine(
            r["transaction_id"],
            r["item_id"],
            json.loads(r["fields"]),
            r["_file"],
            r["_landed_at"],
            r["_line"],
        )
        for r in table.to_pylist()
    ]


def etags_of_bronze(*tables: pa.Table) -> dict[str, str]:
    return {
        r["_file"]: r["_etag"]
        for table in tables
        for r in table.select(["_file", "_etag"]).to_pylist()
    }


def _order(
    transaction_id: str,
    timestamp: datetime,
    fields: str,
    file: str,
    landed_at: datetime,
    index: int,
    undecodable: bool,
) -> Order:
    values = json.loads(fields)
    values[TIMESTAMP] = timestamp
    return Order(transaction_id, timestamp, values, file, landed_at, index, bool(undecodable))


# --- state --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SilverSchema:
    """The silver table's columns (``date`` excluded: it is the partition) and their types:
    ``string, int64, float64, bool, timestamp, date`` or ``null`` (only nulls seen yet,
    stored as string)."""

    columns: tuple[tuple[str, str], ...] = ()

    TYPES: ClassVar[dict[str, pa.DataType]] = {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": TIMESTAMP_TYPE,
        "date": pa.date32(),
        "null": pa.string(),
    }

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def arrow(self) -> pa.Schema:
        return pa.schema([(name, self.TYPES[kind]) for name, kind in self.columns])

    def to_json(self) -> str:
        return json.dumps([list(c) for c in self.columns])

    @classmethod
    def from_json(cls, text: str | bytes | None) -> SilverSchema:
        return cls(tuple((n, k) for n, k in json.loads(text))) if text else cls()

    def widened(self, table: pa.Table) -> SilverSchema:
        """This schema taking in ``table``'s columns (see the module docstring)."""
        kinds = dict(self.columns)
        names = merge_order(self.names, [n for n in table.column_names if n != DATE])
        for name in table.column_names:
            if name == DATE:
                continue
            column = table.column(name)
            seen = "null" if column.null_count == len(column) else type_token(column.type)
            kinds[name] = widen(kinds.get(name, "null"), seen)
        return SilverSchema(tuple((n, kinds[n]) for n in names))


def type_token(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "int64"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float64"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_null(arrow_type):
        return "null"
    return "string"


def widen(old: str, new: str) -> str:
    if old == "null" or old == new:
        return new
    if new == "null":
        return old
    if {old, new} == {"int64", "float64"}:
        return "float64"
    return "string"


def merge_order(old: Sequence[str], new: Sequence[str]) -> list[str]:
    """``old`` with the names only ``new`` has, each placed after the name preceding it in
    ``new`` (or first when none does)."""
    merged = list(old)
    placed = set(merged)
    previous: str | None = None
    for name in new:
        if name not in placed:
            at = merged.index(previous) + 1 if previous is not None else 0
            merged.insert(at, name)
            placed.add(name)
        previous = name
    return merged


def conform(table: pa.Table, schema: SilverSchema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns and types (absent ones null), marked so
    pandas reads its integer columns as ``Int64`` (but the never-null ones)."""
    rows = table.num_rows
    arrays = []
    for name, kind in schema.columns:
        target = SilverSchema.TYPES[kind]
        if name not in table.column_names:
            arrays.append(pa.nulls(rows, target))
            continue
        column = table.column(name).combine_chunks()
        if column.null_count == rows:
            arrays.append(pa.nulls(rows, target))
        elif column.type != target:
            arrays.append(column.cast(target))
        else:
            arrays.append(column)
    conformed = pa.Table.from_arrays(arrays, schema=schema.arrow())
    return with_pandas_dtypes(conformed, NEVER_NULL)


@dataclass
class State:
    """Winning order and item line records of every transaction seen, and the silver schema."""

    records: pa.Table = field(default_factory=STATE.empty_table)
    schema: SilverSchema = field(default_factory=SilverSchema)

    @classmethod
    def from_table(cls, table: pa.Table) -> State:
        metadata = table.schema.metadata or {}
        return cls(
            table.select(STATE.names).cast(STATE),
            SilverSchema.from_json(metadata.get(SCHEMA_METADATA)),
        )

    def to_table(self) -> pa.Table:
        ordered = self.records.sort_by(
            [("transaction_id", "ascending"), ("kind", "descending"), ("item_id", "ascending")]
        )
        return ordered.replace_schema_metadata({SCHEMA_METADATA: self.schema.to_json()})

    def of(
        self, transaction_ids: Iterable[str]
    ) -> tuple[list[Order], list[ItemLine], dict[str, str]]:
        """The recorded orders and lines of these transactions, and their files' ETags."""
        ids = pa.array(sorted(set(transaction_ids)), pa.string())
        chosen = self.records.filter(pc.is_in(self.records.column("transaction_id"), ids))
        orders: list[Order] = []
        items: list[ItemLine] = []
        etags: dict[str, str] = {}
        for r in chosen.to_pylist():
            etags[r["file"]] = r["etag"]
            if r["kind"] == ORDER:
                orders.append(
                    _order(
                        r["transaction_id"],
                        r["timestamp"],
                        r["fields"],
                        r["file"],
                        r["landed_at"],
                        r["position"],
                        r["loyalty_undecodable"],
                    )
                )
            else:
                items.append(
                    ItemLine(
                        r["transaction_id"],
                        r["item_id"],
                        json.loads(r["fields"]),
                        r["file"],
                        r["landed_at"],
                        r["position"],
                    )
                )
        return orders, items, etags

    def replaced(
        self,
        transaction_ids: Iterable[str],
        orders: Sequence[Order],
        items: Sequence[ItemLine],
        etags: Mapping[str, str],
        schema: SilverSchema,
    ) -> State:
        """A new state: these transactions' records replaced by ``orders`` and ``items``."""
        ids = pa.array(sorted(set(transaction_ids)), pa.string())
        kept = self.records.filter(pc.invert(pc.is_in(self.records.column("transaction_id"), ids)))
        rows = [
            {
                "kind": ORDER, "transaction_id": o.transaction_id, "item_id": None,
                "timestamp": o.timestamp, "fields": _dumps(o.fields), "file": o.file,
                "etag": etags.get(o.file, ""), "landed_at": o.landed_at, "position": o.index,
                "loyalty_undecodable": o.loyalty_undecodable,
            }
            for o in orders
        ] + [
            {
                "kind": ITEM, "transaction_id": i.transaction_id, "item_id": i.item_id,
                "timestamp": None, "fields": _dumps(i.fields), "file": i.file,
                "etag": etags.get(i.file, ""), "landed_at": i.landed_at, "position": i.line,
                "loyalty_undecodable": None,
            }
            for i in items
        ]  # fmt: skip
        added = pa.Table.from_pylist(rows, schema=STATE)
        return State(pa.concat_tables([kept, added]), schema)

    def pending(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Transaction ids of orders without lines, and (id, item_id) of lines without order."""
        kinds = self.records.column("kind")
        orders = self.records.filter(pc.equal(kinds, ORDER))
        items = self.records.filter(pc.equal(kinds, ITEM))
        order_ids = orders.column("transaction_id")
        item_ids = items.column("transaction_id")
        waiting_orders = orders.filter(pc.invert(pc.is_in(order_ids, item_ids.unique())))
        waiting_items = items.filter(pc.invert(pc.is_in(item_ids, order_ids.unique())))
        return (
            sorted(waiting_orders.column("transaction_id").to_pylist()),
            sorted(
                zip(
                    waiting_items.column("transaction_id").to_pylist(),
                    waiting_items.column("item_id").to_pylist(),
                    strict=True,
                )
            ),
        )


# --- merging a batch ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Merge:
    """A batch against the state: what to publish (and where it was before), what waits."""

    batch: Batch
    transaction_ids: frozenset[str]
    previous_dates: Mapping[str, str]  # published transaction id → its partition until now
    etags: Mapping[str, str]  # landed file → the ETag of the version read

    def winners(self) -> tuple[list[Order], list[ItemLine]]:
        """What the state keeps of these transactions: the winning order and lines of each."""
        orders = [order for order, _ in self.batch.published] + list(self.batch.pending_orders)
        lines = [line for _, found in self.batch.published for line in found]
        return orders, lines + list(self.batch.pending_items)

    @property
    def dates(self) -> set[str]:
        """Partitions to rebuild: where these transactions were and where they are now."""
        now = {utc_date(order.timestamp) for order, _ in self.batch.published}
        return now | set(self.previous_dates.values())


def utc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def merge_batch(
    state: State,
    orders: Sequence[Order],
    items: Sequence[ItemLine],
    etags: Mapping[str, str],
) -> Merge:
    """The batch's landings matched with what the state holds of the same transactions."""
    ids = frozenset([o.transaction_id for o in orders] + [i.transaction_id for i in items])
    old_orders, old_items, old_etags = state.of(ids)
    with_lines = {i.transaction_id for i in old_items}
    previous = {
        o.transaction_id: utc_date(o.timestamp)
        for o in old_orders
        if o.transaction_id in with_lines
    }
    batch = match([*old_orders, *orders], [*old_items, *items])
    return Merge(batch, ids, previous, {**old_etags, **etags})


def rebuild_partition(
    existing: pa.Table | None,
    replaced_ids: Iterable[str],
    rows: pa.Table | None,
    schema: SilverSchema,
) -> pa.Table:
    """A partition's rows: ``existing`` ones of other transactions kept, ``rows`` added."""
    parts = []
    if existing is not None:
        kept = conform(existing, schema)
        ids = pa.array(sorted(set(replaced_ids)), pa.string())
        parts.append(kept.filter(pc.invert(pc.is_in(kept.column("transaction_id"), ids))))
    if rows is not None and rows.num_rows:
        parts.append(conform(rows, schema))
    if not parts:
        return conform(pa.table({}), schema)
    table = pa.concat_tables(parts).sort_by(ROW_ORDER)
    return with_pandas_dtypes(table.replace_schema_metadata(None), NEVER_NULL)


def rows_by_date(table: pa.Table) -> dict[str, pa.Table]:
    """Enriched rows per partition, without the partition column (the path carries it)."""
    if not table.num_rows:
        return {}
    dates = table.column(DATE)
    return {
        day: table.filter(pc.equal(dates, day)).drop_columns([DATE])
        for day in sorted(set(dates.to_pylist()))
    }
