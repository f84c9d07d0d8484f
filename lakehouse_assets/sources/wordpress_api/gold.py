"""Gold layer: blog posts joined with their page-view statistics (``statistics_postname``)."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from lakehouse_assets.engines.choice import Engine
from lakehouse_assets.engines.resource import EnginesResource
from lakehouse_assets.errors import DataContractError
from lakehouse_assets.lake.parquet import COLUMN_DESCRIPTIONS_METADATA
from lakehouse_assets.lake.table_files import StoredTable, staged_table
from lakehouse_assets.medallion.checks import volume_check
from lakehouse_assets.medallion.layers import fail_if_shrunk, volume_spec
from lakehouse_assets.medallion.lineage import ColumnSources, lineage_metadata
from lakehouse_assets.medallion.partitions import SNAPSHOT_METADATA
from lakehouse_assets.medallion.reuse import (
    INPUT_FINGERPRINT,
    code_version,
    fingerprint,
    kept_current_table,
    reusable,
    upstream_fingerprint,
)
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.sources.wordpress_api import statistics_postname as gold_module
from lakehouse_assets.sources.wordpress_api.datasets import SOURCE, WORDPRESS
from lakehouse_assets.sources.wordpress_api.statistics_postname import (
    GOLD_COLUMNS,
    gold_query,
    gold_schema,
    write_gold_file,
)

GOLD = "statistics_postname"
#: Where each gold column comes from, shown with the column schema of every materialization.
#: (A definition-level ``dagster/column_schema`` would do it too, but the UI lowercases its names.)
GOLD_COLUMN_DESCRIPTIONS = {
    name: f"{'posts' if table == 'posts' else 'statistics_pages'}.{column}"
    for name, (table, column) in GOLD_COLUMNS.items()
}
#: Column lineage: each gold column from its silver column (``GOLD_COLUMNS``' tables by dataset).
GOLD_LINEAGE: ColumnSources = {
    name: [("posts" if table == "posts" else "statistics_pages", column)]
    for name, (table, column) in GOLD_COLUMNS.items()
}


def build_gold_asset(partitions: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    key = WORDPRESS.key("gold", GOLD)
    inputs = {name: WORDPRESS.key("silver", name) for name in ("posts", "statistics_pages")}
    code = code_version(gold_module)

    @dg.asset(
        key=key,
        ins={name: dg.AssetIn(key=silver) for name, silver in inputs.items()},
        description="Blog posts (post_type 'post') with their daily page-view statistics.",
        metadata={**SNAPSHOT_METADATA, COLUMN_DESCRIPTIONS_METADATA: GOLD_COLUMN_DESCRIPTIONS},
        partitions_def=partitions,
        check_specs=volume_spec(key, partitions),
        **WORDPRESS.asset_options("gold"),
    )
    def statistics_postname(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        engines: EnginesResource,
        posts: StoredTable,
        statistics_pages: StoredTable,
    ) -> Iterator[object]:
        engine = engines.engine(SOURCE, "gold")
        engine_metadata: dict[str, Any] = {"engine": engine.value}
        upstream = [upstream_fingerprint(context, silver) for silver in inputs.values()]
        built_from = None
        if None not in upstream:
            built_from = fingerprint("gold", GOLD, *map(str, upstream), code)
            current = reusable(context, lake, key, built_from)
            if current is not None:
                yield from kept_current_table(context, key, current, built_from)
                return
        with (
            posts.local_path() as posts_path,
            statistics_pages.local_path() as statistics_path,
            staged_table() as staged,
        ):
            if engine is Engine.SPARK:
                from lakehouse_assets.engines.spark import spark_metadata, spark_table

                run = spark_table(
                    context,
                    engines,
                    lake,
                    layer="gold",
                    source=SOURCE,
                    dataset=GOLD,
                    query=gold_query("posts", "statistics"),
                    inputs={
                        "posts": (posts, posts_path),
                        "statistics": (statistics_pages, statistics_path),
                    },
                    arrow_schema=gold_schema(),
                    out=staged.path,
                )
                rows, engine_metadata = run.rows, spark_metadata(run)
            elif engine is Engine.ATHENA:
                from lakehouse_assets.engines.athena import AthenaGoldJob
                from lakehouse_assets.resources.aws.glue import table_name

                job = AthenaGoldJob(
                    source=SOURCE,
                    dataset=GOLD,
                    query=gold_query("posts", "statistics"),
                    inputs={
                        "posts": table_name(posts.address),
                        "statistics": table_name(statistics_pages.address),
                    },
                    schema=gold_schema(),
                )
                rows = engines.run_athena_gold(context, lake, job, staged.path)
            else:
                rows = write_gold_file(posts_path, statistics_path, staged.path)
            if rows == 0:
                raise DataContractError(
                    "gold",
                    SOURCE,
                    GOLD,
                    "the join produced no rows; the previous table is kept rather than emptied",
                )
            volume = volume_check(context, lake, key, rows)
            if not volume.passed:
                staged.discard()
        yield volume
        fail_if_shrunk(volume, "gold", SOURCE, GOLD)
        fingerprinted = {} if built_from is None else {INPUT_FINGERPRINT: built_from}
        yield dg.Output(
            staged,
            metadata={
                **lineage_metadata(WORDPRESS, GOLD_LINEAGE),
                **fingerprinted,
                **engine_metadata,
            },
        )

    return statistics_postname
