"""Bronze layer: the newest raw snapshot as a Parquet table, all columns kept, as text."""

import dagster as dg
from dagster import AssetExecutionContext

from lakehouse_assets.errors import SourceError
from lakehouse_assets.lake.resource import LakeResource
from lakehouse_assets.lake.snapshots import ingested_at, latest_snapshot
from lakehouse_assets.lake.table_files import StagedTable, staged_table
from lakehouse_assets.sources.wordpress_api.datasets import DATASETS, SOURCE
from lakehouse_assets.sources.wordpress_api.partitions import SNAPSHOT_METADATA
from lakehouse_assets.sources.wordpress_api.tags import OWNERS, POOL, asset_tags
from lakehouse_assets.transforms.bronze import write_bronze_file
from lakehouse_assets.transforms.schema import DatasetSchema


def build_bronze_asset(
    schema: DatasetSchema, partitions: dg.DailyPartitionsDefinition
) -> dg.AssetsDefinition:
    @dg.asset(
        key=["bronze", SOURCE, schema.name],
        deps=[dg.AssetKey(["raw", SOURCE, schema.name])],
        group_name=SOURCE,
        description=f"{schema.description} Every field of the newest raw snapshot, as text.",
        kinds={"parquet", "duckdb", "bronze"},
        owners=OWNERS,
        pool=POOL,
        tags=asset_tags("bronze"),
        metadata={"preview_excluded": list(schema.preview_excluded), **SNAPSHOT_METADATA},
        partitions_def=partitions,
    )
    def bronze_table_asset(context: AssetExecutionContext, lake: LakeResource) -> StagedTable:
        store = lake.object_store()
        bucket = lake.bucket("raw")
        day = context.partition_key
        snapshot = latest_snapshot(store, bucket, SOURCE, schema.name, ingest_date=day)
        if snapshot is None:
            raise SourceError(SOURCE, schema.name, f"no raw snapshot for {day}: materialize raw")
        moment = ingested_at(snapshot.key)
        if moment is None:
            raise SourceError(
                SOURCE, schema.name, f"raw snapshot key {snapshot.key} has no timestamp"
            )
        with store.local_copy(bucket, snapshot.key) as path, staged_table() as staged:
            write_bronze_file(path, staged.path, moment, snapshot.key, SOURCE, schema.name)
        context.add_output_metadata({"raw_snapshot": snapshot.key})
        return staged

    return bronze_table_asset


def build_bronze_assets(partitions: dg.DailyPartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_bronze_asset(schema, partitions) for schema in DATASETS]
