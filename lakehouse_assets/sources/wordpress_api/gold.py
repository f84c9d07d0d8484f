"""Gold layer: blog posts joined with their page-view statistics (``statistics_postname``)."""

import dagster as dg

from lakehouse_assets.errors import DataContractError
from lakehouse_assets.lake.parquet import COLUMN_DESCRIPTIONS_METADATA
from lakehouse_assets.lake.table_files import StagedTable, StoredTable, staged_table
from lakehouse_assets.sources.wordpress_api.datasets import SOURCE
from lakehouse_assets.sources.wordpress_api.partitions import SNAPSHOT_METADATA
from lakehouse_assets.sources.wordpress_api.tags import OWNERS, POOL, asset_tags
from lakehouse_assets.transforms.gold import GOLD_COLUMNS, write_gold_file

#: Where each gold column comes from, shown with the column schema of every materialization.
#: (A definition-level ``dagster/column_schema`` would do it too, but the UI lowercases its names.)
GOLD_COLUMN_DESCRIPTIONS = {
    name: f"{'posts' if table == 'posts' else 'statistics_pages'}.{column}"
    for name, (table, column) in GOLD_COLUMNS.items()
}


def build_gold_asset(partitions: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["gold", SOURCE, "statistics_postname"],
        ins={
            "posts": dg.AssetIn(key=dg.AssetKey(["silver", SOURCE, "posts"])),
            "statistics_pages": dg.AssetIn(key=dg.AssetKey(["silver", SOURCE, "statistics_pages"])),
        },
        group_name=SOURCE,
        description="Blog posts (post_type 'post') with their daily page-view statistics.",
        kinds={"parquet", "duckdb", "gold"},
        owners=OWNERS,
        pool=POOL,
        tags=asset_tags("gold"),
        metadata={**SNAPSHOT_METADATA, COLUMN_DESCRIPTIONS_METADATA: GOLD_COLUMN_DESCRIPTIONS},
        partitions_def=partitions,
    )
    def statistics_postname(posts: StoredTable, statistics_pages: StoredTable) -> StagedTable:
        with (
            posts.local_path() as posts_path,
            statistics_pages.local_path() as statistics_path,
            staged_table() as staged,
        ):
            rows = write_gold_file(posts_path, statistics_path, staged.path)
            if rows == 0:
                raise DataContractError(
                    "gold",
                    SOURCE,
                    "statistics_postname",
                    "the join produced no rows; the previous table is kept rather than emptied",
                )
        return staged

    return statistics_postname
