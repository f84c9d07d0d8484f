"""The transactions assets, one Dagster partition per batch of landed files (a manifest, see
``automation/batch_sensor``): bronze ``orders`` and ``items`` parse the batch's files, silver
``enriched`` merges them into the date partitions (see ``batches``).

Bronze quarantines a bad file (its reason beside it, alerted) and goes on with the others.
Silver asks each lookup once for the whole batch, after reading its parameters and before
writing anything: a lookup service that is still failing after its retries fails the run
naming the service, and no silver partition (nor the state) has changed.
"""

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.automation.batch_sensor import read_manifest
from lakehouse_assets.errors import BadFileError
from lakehouse_assets.lake.layout import (
    TableAddress,
    hive_partition_key,
    hive_partition_prefix,
    table_state_key,
)
from lakehouse_assets.lake.object_store import LocalObjectStore, ObjectInfo, ObjectStore
from lakehouse_assets.lake.parquet import write_parquet
from lakehouse_assets.medallion.landing import LandedDataset, quarantine
from lakehouse_assets.resources.catalog import CatalogResource
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.resources.notifications import NotificationsResource
from lakehouse_assets.resources.parameters import ParametersResource
from lakehouse_assets.sources.transactions import batches
from lakehouse_assets.sources.transactions.datasets import (
    CUSTOMER_TABLE_PARAMETER,
    ENRICHED,
    FRAUD_GROUP_PARAMETER,
    ITEMS,
    ORDERS,
    PARAMETER_DEFAULTS,
    PARTITION_COLUMN,
    SECRET_ID_PARAMETER,
    TRANSACTIONS,
)
from lakehouse_assets.sources.transactions.enrich import enrich
from lakehouse_assets.sources.transactions.items import parse_items
from lakehouse_assets.sources.transactions.lookups import (
    CustomerActivity,
    CustomersLookup,
    FraudScores,
    FraudScoresLookup,
    StoresLookup,
    StoreTable,
)
from lakehouse_assets.sources.transactions.orders import parse_orders

#: One Dagster partition per batch manifest; the sensor adds them.
BATCHES = dg.DynamicPartitionsDefinition(name="transactions__batches")
DOWNLOAD_THREADS = 16
#: Pending ids listed in metadata (all are counted).
LISTED_PENDING = 200
ENRICHED_ADDRESS = TableAddress("silver", TRANSACTIONS.name, ENRICHED)


def _download(store: ObjectStore, bucket: str, info: ObjectInfo) -> bytes | None:
    """The object's bytes, or None when it is gone (deleted after it was batched)."""
    try:
        with store.local_copy(bucket, info.key) as path:
            return path.read_bytes()
    except Exception:
        if store.info(bucket, info.key) is None:
            return None
        raise


def fetch(
    store: ObjectStore, bucket: str, objects: Sequence[ObjectInfo]
) -> list[tuple[ObjectInfo, bytes | None]]:
    """Every object's bytes, fetched in parallel (a batch holds thousands of small files)."""
    if len(objects) < 2:
        return [(info, _download(store, bucket, info)) for info in objects]
    with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS) as pool:
        return list(
            zip(objects, pool.map(lambda o: _download(store, bucket, o), objects), strict=True)
        )


def build_bronze(
    landed: LandedDataset,
    parse: Callable[..., Sequence[Any]],
    to_table: Callable[..., pa.Table],
    *,
    description: str,
) -> dg.AssetsDefinition:
    """Bronze of one landed dataset: the batch's files of that dataset, parsed, as records."""

    @dg.asset(
        key=TRANSACTIONS.key("bronze", landed.schema.name),
        partitions_def=BATCHES,
        description=description,
        **TRANSACTIONS.asset_options(
            "bronze", kinds=("parquet", "pyarrow", "bronze"), ingestion="landing"
        ),
    )
    def bronze(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        notifications: NotificationsResource,
    ) -> Iterator[dg.Output[pa.Table]]:
        store = lake.object_store()
        raw = lake.bucket("raw")
        manifest = read_manifest(store, raw, TRANSACTIONS.name, context.partition_key)
        objects = [o for o in manifest.objects if o.key.startswith(landed.landing_prefix)]
        records: list[Any] = []
        etags: dict[str, str] = {}
        quarantined: list[str] = []
        gone: list[str] = []
        for info, body in fetch(store, raw, objects):
            if body is None:
                gone.append(info.key)
                continue
            landed_at = datetime.fromtimestamp(info.last_modified, UTC)
            try:
                parsed = parse(body, file=info.key, landed_at=landed_at)
            except BadFileError as exc:
                with tempfile.TemporaryDirectory(prefix="lakehouse-bad-") as directory:
                    path = Path(directory) / Path(info.key).name
                    path.write_bytes(body)
                    quarantine(context, lake, notifications, landed, info, path, exc)
                quarantined.append(f"{info.key}: {exc.reason}")
                continue
            etags[info.key] = info.etag
            records.extend(parsed)
        if gone:
            context.log.warning(f"bronze {landed.label}: {len(gone)} batched file(s) are gone")
        table = to_table(records, etags, context.partition_key)
        yield dg.Output(
            table,
            metadata={
                "batch": context.partition_key,
                "files": len(objects),
                "files_parsed": len(etags),
                "files_quarantined": len(quarantined),
                "quarantined": dg.MetadataValue.json(quarantined[:LISTED_PENDING]),
                "files_gone": len(gone),
                "records": table.num_rows,
            },
        )

    return bronze


def build_bronze_orders() -> dg.AssetsDefinition:
    return build_bronze(
        ORDERS,
        parse_orders,
        batches.bronze_orders,
        description="The orders of each batch of files landed in raw/landing/transactions/"
        "orders/: one record per order, every field (flattened, loyalty decoded) kept as JSON.",
    )


def build_bronze_items() -> dg.AssetsDefinition:
    return build_bronze(
        ITEMS,
        parse_items,
        batches.bronze_items,
        description="The item lines of each batch of files landed in raw/landing/transactions/"
        "items/: one record per CSV row, every column kept as JSON.",
    )


def read_state(store: ObjectStore, bucket: str) -> batches.State:
    key = table_state_key(ENRICHED_ADDRESS)
    if store.info(bucket, key) is None:
        return batches.State()
    with store.local_copy(bucket, key) as path:
        return batches.State.from_table(pq.read_table(path))


def read_partition(store: ObjectStore, bucket: str, day: str) -> pa.Table | None:
    key = hive_partition_key(ENRICHED_ADDRESS, PARTITION_COLUMN, day)
    if store.info(bucket, key) is None:
        return None
    with store.local_copy(bucket, key) as path:
        return pq.read_table(path)


def partition_dates(store: ObjectStore, bucket: str) -> list[str]:
    """Every date partition the table holds."""
    marker = f"{PARTITION_COLUMN}="
    days = set()
    for info in store.list(bucket, ENRICHED_ADDRESS.prefix):
        rest = info.key[len(ENRICHED_ADDRESS.prefix) :].split("/")
        if len(rest) == 2 and rest[0].startswith(marker) and rest[1].endswith(".parquet"):
            days.add(rest[0][len(marker) :])
    return sorted(days)


def remove_partition(store: ObjectStore, bucket: str, day: str) -> None:
    """Delete the day's partition file (and, in a local lake, its emptied folder, which S3
    does not have: a reader listing the table sees no ``date=`` left behind)."""
    store.delete(bucket, hive_partition_key(ENRICHED_ADDRESS, PARTITION_COLUMN, day))
    if isinstance(store, LocalObjectStore):
        folder = Path(store.uri(bucket, hive_partition_prefix(ENRICHED_ADDRESS, "date", day)))
        with contextlib.suppress(OSError):  # not empty (or gone): leave it
            folder.rmdir()


def put_table(store: ObjectStore, bucket: str, key: str, table: pa.Table) -> None:
    """Write ``table`` to a local file, then publish it with one atomic put."""
    with tempfile.TemporaryDirectory(prefix="lakehouse-enriched-") as directory:
        path = Path(directory) / "data.parquet"
        write_parquet(table, path)
        store.put_file(bucket, key, path)


def build_silver_enriched() -> dg.AssetsDefinition:
    key = TRANSACTIONS.key("silver", ENRICHED)

    @dg.asset(
        key=key,
        partitions_def=BATCHES,
        ins={
            "orders": dg.AssetIn(TRANSACTIONS.key("bronze", "orders")),
            "items": dg.AssetIn(TRANSACTIONS.key("bronze", "items")),
        },
        description="One row per item line, enriched with its order, store, customer activity "
        "and fraud score; Hive-partitioned by the UTC date of timestamp (date=YYYY-MM-DD), the "
        "latest landing of each transaction winning. Each materialization merges one batch.",
        **TRANSACTIONS.asset_options("silver"),
    )
    def enriched(
        context: dg.AssetExecutionContext,
        orders: pa.Table,
        items: pa.Table,
        lake: LakeResource,
        catalog: CatalogResource,
        parameters: ParametersResource,
        transactions_stores: StoresLookup,
        transactions_customers: CustomersLookup,
        transactions_fraud: FraudScoresLookup,
    ) -> dg.MaterializeResult:
        names = {name: parameters.get_string_or(name, d) for name, d in PARAMETER_DEFAULTS.items()}
        store = lake.object_store()
        silver = lake.bucket("silver")
        state = read_state(store, silver)
        merge = batches.merge_batch(
            state,
            batches.orders_of_bronze(orders),
            batches.items_of_bronze(items),
            batches.etags_of_bronze(orders, items),
        )
        batch = merge.batch
        if batch.published:
            stores = transactions_stores.stores(
                batch.store_ids, secret_id=names[SECRET_ID_PARAMETER]
            )
            customers = transactions_customers.activity(
                batch.customer_ids, table=names[CUSTOMER_TABLE_PARAMETER]
            )
            fraud = transactions_fraud.scores(
                batch.transactions, log_group=names[FRAUD_GROUP_PARAMETER]
            )
        else:
            stores, customers, fraud = StoreTable((), {}), CustomerActivity({}), FraudScores({})
        result = enrich(batch, stores, customers, fraud)
        schema = state.schema.widened(result.table)
        changed = schema.arrow() != state.schema.arrow()
        by_date = batches.rows_by_date(result.table)
        days = set(merge.dates)
        if changed:
            days |= set(partition_dates(store, silver))
        written, removed = [], []
        for day in sorted(days):
            existing = read_partition(store, silver, day)
            table = batches.rebuild_partition(
                existing, merge.transaction_ids, by_date.get(day), schema
            )
            if not table.num_rows:
                # Every row moved out (a re-landed order's date changed): no empty partition.
                if existing is not None:
                    remove_partition(store, silver, day)
                    removed.append(day)
                continue
            unchanged = existing is not None and not changed
            if unchanged and table.equals(batches.conform(existing, schema)):
                continue
            put_table(
                store, silver, hive_partition_key(ENRICHED_ADDRESS, PARTITION_COLUMN, day), table
            )
            written.append(day)
        if written:
            catalog.register_partitions(
                ENRICHED_ADDRESS,
                lake.table_uri(ENRICHED_ADDRESS),
                schema.arrow(),
                written,
                partition_column=PARTITION_COLUMN,
                description=context.op_def.description,
            )
        orders_kept, lines_kept = merge.winners()
        new_state = state.replaced(
            merge.transaction_ids, orders_kept, lines_kept, merge.etags, schema
        )
        put_table(store, silver, table_state_key(ENRICHED_ADDRESS), new_state.to_table())
        pending_orders, pending_items = new_state.pending()
        counts = result.counts
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.table.num_rows,
                "rows": result.table.num_rows,
                "batch": context.partition_key,
                "transactions_published": counts.get("transactions_published", 0),
                "partitions_written": dg.MetadataValue.json(
                    [f"{PARTITION_COLUMN}={d}" for d in written]
                ),
                "partition_uris": dg.MetadataValue.json(
                    [
                        store.uri(silver, hive_partition_prefix(ENRICHED_ADDRESS, "date", d))
                        for d in written[:LISTED_PENDING]
                    ]
                ),
                "partitions_removed": dg.MetadataValue.json(
                    [f"{PARTITION_COLUMN}={d}" for d in removed]
                ),
                "schema_changed": changed,
                "pending_orders": len(pending_orders),
                "pending_orders_listed": dg.MetadataValue.json(pending_orders[:LISTED_PENDING]),
                "pending_item_lines": len(pending_items),
                "pending_items_listed": dg.MetadataValue.json(
                    [f"{t}/{i}" for t, i in pending_items[:LISTED_PENDING]]
                ),
                "missing_store": counts.get("missing_store", 0),
                "missing_customer": counts.get("missing_customer", 0),
                "no_fraud_event": counts.get("no_fraud_event", 0),
                "fraud_score_unparseable": counts.get("fraud_score_unparseable", 0),
                "customer_last_seen_unreadable": counts.get("customer_last_seen_unreadable", 0),
                "loyalty_undecodable": counts.get("loyalty_undecodable", 0),
                "orders_in_batch": orders.num_rows,
                "item_lines_in_batch": items.num_rows,
                "store_queries": stores.queries,
                "customer_calls": customers.calls,
                "fraud_calls": fraud.calls,
                "fraud_events_scanned": fraud.events_scanned,
                "dagster/uri": dg.MetadataValue.path(lake.table_uri(ENRICHED_ADDRESS)),
            }
        )

    return enriched
