"""Gold layer: blog posts joined with their page-view statistics (``statistics_postname``)."""

import dagster as dg
import pandas as pd
import pyarrow as pa

from lakehouse_assets.errors import DataContractError
from lakehouse_assets.sources.wordpress_api.datasets import SOURCE
from lakehouse_assets.sources.wordpress_api.partitions import SNAPSHOT_METADATA
from lakehouse_assets.sources.wordpress_api.tags import OWNERS, POOL, asset_tags

#: gold column → (source table, source column); order is the contract's.
GOLD_COLUMNS: dict[str, tuple[str, str]] = {
    "post_ID": ("posts", "ID"),
    "post_title": ("posts", "post_title"),
    "post_status": ("posts", "post_status"),
    "post_parent": ("posts", "post_parent"),
    "post_type": ("posts", "post_type"),
    "post_date": ("posts", "post_date"),
    "post_date_year": ("posts", "post_date_year"),
    "post_date_month": ("posts", "post_date_month"),
    "post_date_day": ("posts", "post_date_day"),
    "statistics_id": ("statistics", "page_id"),
    "statistics_date": ("statistics", "date"),
    "statistics_count": ("statistics", "count"),
    "statistics_date_year": ("statistics", "date_year"),
    "statistics_date_month": ("statistics", "date_month"),
    "statistics_date_day": ("statistics", "date_day"),
}
INTEGER_COLUMNS = [
    "post_ID",
    "post_parent",
    "post_date_year",
    "post_date_month",
    "post_date_day",
    "statistics_id",
    "statistics_count",
    "statistics_date_year",
    "statistics_date_month",
    "statistics_date_day",
]
TIMESTAMP_COLUMNS = ["post_date", "statistics_date"]
SORT_ORDER = ["post_ID", "statistics_date", "statistics_id"]
GOLD_SCHEMA = pa.schema(
    [
        (
            name,
            pa.int64()
            if name in INTEGER_COLUMNS
            else pa.timestamp("us")
            if name in TIMESTAMP_COLUMNS
            else pa.string(),
        )
        for name in GOLD_COLUMNS
    ]
)


def build_statistics_postname(posts: pd.DataFrame, statistics: pd.DataFrame) -> pd.DataFrame:
    """Posts whose ``post_type`` is exactly "post", inner-joined on ``posts.ID = statistics.id``."""
    blog_posts = posts[posts["post_type"].astype("string").eq("post").fillna(False).astype(bool)]
    left = blog_posts.rename(columns=lambda c: f"posts.{c}")
    right = statistics.rename(columns=lambda c: f"statistics.{c}")
    joined = left.merge(right, left_on="posts.ID", right_on="statistics.id", how="inner")
    gold = pd.DataFrame(
        {name: joined[f"{table}.{column}"] for name, (table, column) in GOLD_COLUMNS.items()}
    )
    return gold.sort_values(SORT_ORDER, kind="stable").reset_index(drop=True)


def gold_arrow(gold: pd.DataFrame) -> pa.Table:
    """The contract's schema exactly (int64, timestamps, text), free of pandas-specific dtypes."""
    arrays = [pa.Array.from_pandas(gold[field.name]).cast(field.type) for field in GOLD_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=GOLD_SCHEMA)


#: The contract's schema as the UI shows it, each column saying where it comes from.
GOLD_TABLE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn(
            name=name,
            type=str(GOLD_SCHEMA.field(name).type),
            description=f"{'posts' if table == 'posts' else 'statistics_pages'}.{column}",
        )
        for name, (table, column) in GOLD_COLUMNS.items()
    ]
)


def build_gold_asset(partitions: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["gold", SOURCE, "statistics_postname"],
        ins={
            "posts": dg.AssetIn(key=dg.AssetKey(["silver", SOURCE, "posts"])),
            "statistics_pages": dg.AssetIn(key=dg.AssetKey(["silver", SOURCE, "statistics_pages"])),
        },
        group_name=SOURCE,
        description="Blog posts (post_type 'post') with their daily page-view statistics.",
        kinds={"parquet", "pandas", "gold"},
        owners=OWNERS,
        pool=POOL,
        tags=asset_tags("gold"),
        metadata={**SNAPSHOT_METADATA, "dagster/column_schema": GOLD_TABLE_SCHEMA},
        partitions_def=partitions,
    )
    def statistics_postname(posts: pd.DataFrame, statistics_pages: pd.DataFrame) -> pa.Table:
        gold = build_statistics_postname(posts, statistics_pages)
        if gold.empty:
            raise DataContractError(
                "gold",
                SOURCE,
                "statistics_postname",
                "the join produced no rows; the previous table is kept rather than emptied",
            )
        return gold_arrow(gold)

    return statistics_postname
