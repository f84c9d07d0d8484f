"""Gold layer: blog posts joined with their page-view statistics (``statistics_postname``)."""

import dagster as dg
import pyarrow as pa

from lakehouse_assets.errors import DataContractError
from lakehouse_assets.lake.parquet import COLUMN_DESCRIPTIONS_METADATA
from lakehouse_assets.sources.wordpress_api.datasets import SOURCE
from lakehouse_assets.sources.wordpress_api.partitions import SNAPSHOT_METADATA
from lakehouse_assets.sources.wordpress_api.tags import OWNERS, POOL, asset_tags
from lakehouse_assets.transforms.gold import GOLD_COLUMNS, statistics_postname_table

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
    def statistics_postname(posts: pa.Table, statistics_pages: pa.Table) -> pa.Table:
        gold = statistics_postname_table(posts, statistics_pages)
        if gold.num_rows == 0:
            raise DataContractError(
                "gold",
                SOURCE,
                "statistics_postname",
                "the join produced no rows; the previous table is kept rather than emptied",
            )
        return gold

    return statistics_postname
