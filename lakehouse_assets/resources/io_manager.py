"""One IO manager for every table of the lake, whatever the storage.

A table is one Parquet object at ``{source}/{dataset}/data.parquet`` in its layer's bucket,
written to a temporary file and published with a single atomic put: a reader sees the previous
table or the new one, never a partial write, and a failed step leaves the previous table as it was.

A step returns a ``pa.Table`` or a DataFrame (written here), or a :class:`StagedTable` it
streamed to Parquet itself (published as it is). An input is loaded as a ``pa.Table``, a
DataFrame, or (annotated :class:`StoredTable`) a handle the step reads in bounded memory.

Partitioned assets come in two kinds, declared in the asset's metadata:
- disjoint partitions (the default): each partition holds its own rows, stored at
  ``{source}/{dataset}/{partition}/data.parquet``; together they are the table;
- snapshot partitions: each partition is a whole version of the table (a day's ingestion). Every
  version is kept at ``{source}/{dataset}/_snapshots/{partition}/data.parquet`` (hidden from
  Parquet readers by the leading underscore) and the newest one is also published as the
  current ``data.parquet``, so the prefix always reads as exactly one table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.parquet import (
    COLUMN_DESCRIPTIONS_METADATA,
    file_metadata,
    to_arrow,
    write_parquet,
)
from lakehouse_assets.lake.table_files import StagedTable, StoredTable, staged_table
from lakehouse_assets.observe.usage import step_usage_metadata
from lakehouse_assets.resources.catalog import CatalogResource
from lakehouse_assets.resources.lake import LakeResource

PARTITIONING_METADATA = "lakehouse/partitioning"
SNAPSHOT_PARTITIONING = "snapshots"


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
        info = store.put_file(bucket, key, path)
        current = not snapshot
        if snapshot:
            newest = max((o.key for o in store.list(bucket, address.snapshots_prefix)), default=key)
            current = key >= newest
            if current:
                store.put_file(bucket, address.table_key(), path)
        uri = self.lake.table_uri(address)
        parquet = pq.ParquetFile(path)
        if current:
            self.catalog.register_table(address, uri, parquet.schema_arrow, _description(context))
        definition = context.definition_metadata or {}
        excluded = set(definition.get("preview_excluded", []))
        descriptions = definition.get(COLUMN_DESCRIPTIONS_METADATA)
        metadata = file_metadata(parquet, uri, info.size, excluded, descriptions)
        if snapshot:
            metadata["snapshot_uri"] = dg.MetadataValue.path(store.uri(bucket, key))
            metadata["is_current_table"] = current
        # (No log line: the materialization event carries the rows and the location, and every
        # stored event costs a database commit.)
        context.add_output_metadata({**metadata, **step_usage_metadata()})

    def load_input(self, context: dg.InputContext) -> Any:
        address, key, _ = self._location(context)
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


def _description(context: dg.OutputContext) -> str | None:
    try:
        return context.op_def.description
    except dg.DagsterInvariantViolationError:  # no op in direct IO-manager tests
        return None
