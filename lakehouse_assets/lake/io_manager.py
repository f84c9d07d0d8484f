"""One IO manager for every table of the lake, whatever the storage.

A table is one Parquet object at ``{source}/{dataset}/data.parquet`` in its layer's bucket,
written to a temporary file and published with a single atomic put: a reader sees the previous
table or the new one, never a partial write, and a failed step leaves the previous table as it was.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.parquet import table_metadata, to_arrow, write_parquet
from lakehouse_assets.lake.resource import LakeResource
from lakehouse_assets.resources.catalog import CatalogResource


class MissingTableError(LookupError):
    """An upstream table has never been materialized in this lake."""


class LakeIOManager(dg.ConfigurableIOManager):
    """Stores asset outputs as Parquet tables in the lake and loads them back."""

    lake: LakeResource
    catalog: CatalogResource

    def _location(self, context: dg.OutputContext | dg.InputContext) -> tuple[TableAddress, str]:
        address = TableAddress.from_asset_key(context.asset_key)
        partition = context.asset_partition_key if context.has_asset_partitions else None
        return address, address.table_key(partition)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        address, key = self._location(context)
        table = to_arrow(obj)
        store = self.lake.object_store()
        bucket = self.lake.bucket(address.layer)
        with tempfile.TemporaryDirectory(prefix="lakehouse-") as directory:
            path = Path(directory) / "data.parquet"
            write_parquet(table, path)
            info = store.put_file(bucket, key, path)
        uri = self.lake.table_uri(address)
        self.catalog.register_table(address, uri, table.schema, _description(context))
        excluded = set(context.definition_metadata.get("preview_excluded", []))
        context.add_output_metadata(table_metadata(table, uri, info.size, excluded))
        context.log.info(f"{address.label}: {table.num_rows} rows → {uri}")

    def load_input(self, context: dg.InputContext) -> Any:
        address, key = self._location(context)
        table = self.read_table(address, key)
        if context.dagster_type.typing_type is pa.Table:
            return table
        return table.to_pandas()

    def read_table(self, address: TableAddress, key: str) -> pa.Table:
        store = self.lake.object_store()
        bucket = self.lake.bucket(address.layer)
        if not store.exists(bucket, key):
            raise MissingTableError(
                f"{address.label} has no table yet ({store.uri(bucket, key)}): materialize it first"
            )
        with store.local_copy(bucket, key) as path:
            return pq.read_table(path)


def _description(context: dg.OutputContext) -> str | None:
    try:
        return context.op_def.description
    except dg.DagsterInvariantViolationError:  # no op in direct IO-manager tests
        return None
