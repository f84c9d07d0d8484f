"""One IO manager for every table of the lake, whatever the storage.

A table is one Parquet object at ``{source}/{dataset}/data.parquet`` in its layer's bucket,
written to a temporary file and published with a single atomic put: a reader sees the previous
table or the new one, never a partial write, and a failed step leaves the previous table as it was.

A step returns a ``pa.Table`` or a DataFrame (written here), a :class:`StagedTable` it
streamed to Parquet itself (published as it is), or :class:`CurrentTable` when its table would be
the one already published (kept; its metadata read from the Parquet footer, on S3 by ranged
GETs). An input is loaded as a ``pa.Table``, a DataFrame, or (annotated :class:`StoredTable`) a
handle the step reads in bounded memory.

Partitioned assets come in two kinds, declared in the asset's metadata:
- disjoint partitions (the default): each partition holds its own rows, stored at
  ``{source}/{dataset}/{partition}/data.parquet``; together they are the table;
- snapshot partitions: each partition is a whole version of the table (a day's ingestion). Every
  version is kept under ``{source}/{dataset}/_snapshots/{partition}/`` (hidden from Parquet
  readers by the leading underscore) — as ``data.parquet``, or as a small reference when it is
  byte-identical to a neighbouring version (:mod:`lakehouse_assets.lake.snapshots`) — and the
  newest one is also published as the current ``data.parquet``, so the prefix always reads as
  exactly one table. An older partition, when rebuilt, never replaces the current table.
  With ``LAKEHOUSE_DERIVED_HISTORY_DAYS`` set, bronze/silver/gold versions more than that many
  days older than the newest are removed after each publish (raw history is never touched).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets import settings
from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.object_store import ObjectStore
from lakehouse_assets.lake.parquet import (
    COLUMN_DESCRIPTIONS_METADATA,
    file_metadata,
    table_schema,
    to_arrow,
    write_parquet,
)
from lakehouse_assets.lake.snapshots import SnapshotHistory, StoredSnapshot
from lakehouse_assets.lake.table_files import CurrentTable, StagedTable, StoredTable, staged_table
from lakehouse_assets.observe.usage import step_usage_metadata
from lakehouse_assets.resources.catalog import CatalogResource
from lakehouse_assets.resources.lake import LakeResource

PARTITIONING_METADATA = "lakehouse/partitioning"
SNAPSHOT_PARTITIONING = "snapshots"
#: A kept table's preview is read only when its first row group is at most this big (on S3 a
#: ranged GET of it; the rest of the table is never read).
PREVIEW_READ_LIMIT = 16 * 1024 * 1024
#: Layers whose history is rebuilt from raw, so retention may prune it.
DERIVED_LAYERS = ("bronze", "silver", "gold")


class MissingTableError(LookupError):
    """An upstream table has never been materialized in this lake."""


def _is_snapshot(context: dg.OutputContext) -> bool:
    metadata = context.definition_metadata or {}
    return metadata.get(PARTITIONING_METADATA) == SNAPSHOT_PARTITIONING


class LakeIOManager(dg.ConfigurableIOManager):
    """Stores asset outputs as Parquet tables in the lake and loads them back."""

    lake: LakeResource
    catalog: CatalogResource

    def _location(
        self, context: dg.OutputContext | dg.InputContext
    ) -> tuple[TableAddress, str, bool]:
        """(table, object key, whether this is a snapshot partition)."""
        address = TableAddress.from_asset_key(context.asset_key)
        if not context.has_asset_partitions:
            return address, address.table_key(), False
        partition = context.asset_partition_key
        output = context if isinstance(context, dg.OutputContext) else context.upstream_output
        if output is not None and _is_snapshot(output):
            return address, address.snapshot_key(partition), True
        return address, address.table_key(partition), False

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            context.add_output_metadata(step_usage_metadata())
            return
        if isinstance(obj, CurrentTable):
            self._keep_current(context)
            return
        if isinstance(obj, StagedTable):
            staged = obj
        else:
            with staged_table() as staged:
                write_parquet(to_arrow(obj), staged.path)
        try:
            self._publish(context, staged.path)
        finally:
            staged.discard()

    def _publish(self, context: dg.OutputContext, path: Path) -> None:
        address, key, snapshot = self._location(context)
        store = self.lake.object_store()
        bucket = self.lake.bucket(address.layer)
        history: SnapshotHistory | None = None
        stored: StoredSnapshot | None = None
        if snapshot:
            history = SnapshotHistory(store, bucket, address)
            # Raw history is kept in full; derived history as what changed.
            stored = history.store_file(
                context.asset_partition_key, path, dedupe=address.layer in DERIVED_LAYERS
            )
            size = stored.size
            current = stored.newest
            if current and not _holds(store, bucket, address.table_key(), stored):
                store.put_file(bucket, address.table_key(), path)
        else:
            size = store.put_file(bucket, key, path).size
            current = True
        uri = self.lake.table_uri(address)
        parquet = pq.ParquetFile(path)
        if current:
            self.catalog.register_table(address, uri, parquet.schema_arrow, _description(context))
        definition = context.definition_metadata or {}
        excluded = set(definition.get("preview_excluded", []))
        descriptions = definition.get(COLUMN_DESCRIPTIONS_METADATA)
        metadata = file_metadata(parquet, uri, size, excluded, descriptions)
        if history is not None and stored is not None:
            metadata.update(self._history_metadata(context, history, stored))
        # (No log line: the materialization event carries the rows and the location, and every
        # stored event costs a database commit.)
        context.add_output_metadata({**metadata, **step_usage_metadata()})

    def _keep_current(self, context: dg.OutputContext) -> None:
        """Keep the published table as this output: nothing written, the history entry of a
        snapshot partition recorded as a reference to the version holding those bytes."""
        address, key, snapshot = self._location(context)
        store = self.lake.object_store()
        bucket = self.lake.bucket(address.layer)
        table_key = address.table_key() if snapshot else key
        info = store.listed(bucket, table_key)
        if info is None:
            raise MissingTableError(
                f"{address.label} has no current table to keep ({store.uri(bucket, table_key)})"
            )
        history: SnapshotHistory | None = None
        stored: StoredSnapshot | None = None
        current = True
        if snapshot:
            history = SnapshotHistory(store, bucket, address)
            stored = history.store_copy(context.asset_partition_key, table_key)
            current = stored.newest
        uri = self.lake.table_uri(address)
        definition = context.definition_metadata or {}
        with store.open_read(bucket, table_key) as handle:
            parquet = pq.ParquetFile(handle)
            metadata = _footer_metadata(
                parquet,
                uri,
                info.size,
                set(definition.get("preview_excluded", [])),
                definition.get(COLUMN_DESCRIPTIONS_METADATA),
            )
            schema = parquet.schema_arrow
        if current:
            self.catalog.register_table(address, uri, schema, _description(context))
        metadata["reused_current_table"] = True
        if history is not None and stored is not None:
            metadata.update(self._history_metadata(context, history, stored))
        context.add_output_metadata({**metadata, **step_usage_metadata()})

    def _history_metadata(
        self, context: dg.OutputContext, history: SnapshotHistory, stored: StoredSnapshot
    ) -> dict[str, Any]:
        """Where the partition's version is kept; then retention, for derived layers."""
        store, bucket, address = history.store, history.bucket, history.address
        metadata: dict[str, Any] = {
            "snapshot_uri": dg.MetadataValue.path(store.uri(bucket, stored.key)),
            "is_current_table": stored.newest,
        }
        if stored.same_as is not None:
            reference = address.snapshot_reference_key(stored.partition, stored.same_as)
            metadata["snapshot_same_as"] = stored.same_as
            metadata["snapshot_reference_uri"] = dg.MetadataValue.path(store.uri(bucket, reference))
        days = settings.derived_history_days()
        if days is not None and address.layer in DERIVED_LAYERS:
            pruned = history.prune(days, keep={context.asset_partition_key})
            if pruned:
                metadata["snapshots_pruned"] = dg.MetadataValue.json(pruned)
        return metadata

    def load_input(self, context: dg.InputContext) -> Any:
        address, key, snapshot = self._location(context)
        if snapshot:
            store = self.lake.object_store()
            bucket = self.lake.bucket(address.layer)
            partition = context.asset_partition_key
            resolved = SnapshotHistory(store, bucket, address).resolve(partition)
            if resolved is None:
                raise MissingTableError(
                    f"{address.label} keeps no version of partition {partition} "
                    f"({store.uri(bucket, key)}): materialize that partition first (a pruned "
                    "one is rebuilt from its raw snapshot)"
                )
            key = resolved
        stored = self.stored_table(address, key)
        if context.dagster_type.typing_type is StoredTable:
            return stored
        with stored.local_path() as path:
            table = pq.read_table(path)
        if context.dagster_type.typing_type is pa.Table:
            return table
        return table.to_pandas()

    def stored_table(self, address: TableAddress, key: str) -> StoredTable:
        store = self.lake.object_store()
        bucket = self.lake.bucket(address.layer)
        if not store.exists(bucket, key):
            raise MissingTableError(
                f"{address.label} has no table yet ({store.uri(bucket, key)}): materialize it first"
            )
        return StoredTable(address, store, bucket, key)


def _holds(store: ObjectStore, bucket: str, key: str, stored: StoredSnapshot) -> bool:
    """Whether ``key`` already holds exactly the stored version's bytes (then no put)."""
    info = store.info(bucket, key)
    return (
        info is not None
        and info.size == stored.size
        and store.sha256(bucket, key) == (stored.sha256)
    )


def _footer_metadata(
    parquet: pq.ParquetFile,
    uri: str,
    size_bytes: int,
    excluded: set[str],
    descriptions: dict[str, str] | None,
) -> dict[str, Any]:
    """:func:`file_metadata` of a table read from its footer, and its preview only when the
    first row group is small enough to fetch (the rest is never read)."""
    meta = parquet.metadata
    first = meta.row_group(0) if meta.num_row_groups else None
    first_bytes = (
        sum(first.column(i).total_compressed_size for i in range(first.num_columns))
        if first is not None
        else 0
    )
    if first_bytes <= PREVIEW_READ_LIMIT:
        return file_metadata(parquet, uri, size_bytes, excluded, descriptions)
    return {
        "dagster/row_count": meta.num_rows,
        "dagster/column_schema": table_schema(parquet.schema_arrow, descriptions),
        "dagster/uri": dg.MetadataValue.path(uri),
        "size_bytes": size_bytes,
        "preview": dg.MetadataValue.md("(kept table: its first row group is too big to preview)"),
    }


def _description(context: dg.OutputContext) -> str | None:
    try:
        return context.op_def.description
    except dg.DagsterInvariantViolationError:  # no op in direct IO-manager tests
        return None
