"""Silver layer: typed, cleaned, deduplicated tables, published only when their checks pass.

The checks run on the new table before it is published; a failure is recorded as a failed
blocking check, the step fails, the previous silver table stays in place and gold is not built.
"""

import warnings
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from lakehouse_assets.errors import DataContractError
from lakehouse_assets.lake.table_files import StoredTable, staged_table
from lakehouse_assets.sources.wordpress_api.datasets import DATASETS, SOURCE
from lakehouse_assets.sources.wordpress_api.partitions import SNAPSHOT_METADATA
from lakehouse_assets.sources.wordpress_api.tags import OWNERS, POOL, asset_tags
from lakehouse_assets.transforms.schema import DatasetSchema
from lakehouse_assets.transforms.silver import SilverReport
from lakehouse_assets.transforms.silver_columnar import write_silver_file

CHECKS = {
    "expected_columns": "Every declared column is present.",
    "non_empty": "The table has at least one row.",
    "unique_non_null_keys": "Key columns are non-null and unique.",
    "parseable_dates": "Date columns hold dates; zero and impossible dates are nulled, counted.",
    "typed_integers": "Integer columns hold integers.",
}


def check_results(
    key: dg.AssetKey, schema: DatasetSchema, report: SilverReport
) -> list[dg.AssetCheckResult]:
    def result(name: str, passed: bool, **metadata: Any) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=key, check_name=name, passed=passed, metadata=dict(metadata)
        )

    examples = report.unparseable_examples
    return [
        result(
            "expected_columns",
            not report.missing_columns,
            missing_columns=", ".join(report.missing_columns) or "none",
            expected=", ".join(schema.columns),
        ),
        result("non_empty", report.rows_out > 0, rows=report.rows_out),
        result(
            "unique_non_null_keys",
            report.null_keys == 0 and report.duplicate_keys == 0,
            key=", ".join(schema.key),
            null_keys=report.null_keys,
            duplicate_keys=report.duplicate_keys,
            failing_rows=report.null_keys + report.duplicate_keys,
        ),
        result(
            "parseable_dates",
            not report.unparseable_dates,
            failing_rows=sum(report.unparseable_dates.values()),
            unparseable=_describe(report.unparseable_dates, examples),
            zero_dates_nulled=sum(report.zero_dates.values()),
            impossible_dates_nulled=sum(report.impossible_dates.values()),
        ),
        result(
            "typed_integers",
            not report.unparseable_integers,
            failing_rows=sum(report.unparseable_integers.values()),
            unparseable=_describe(report.unparseable_integers, examples),
        ),
    ]


def _describe(counts: dict[str, int], examples: dict[str, list[str]]) -> str:
    if not counts:
        return "none"
    return "; ".join(f"{c}: {n} (e.g. {examples.get(c, [])})" for c, n in sorted(counts.items()))


def report_metadata(report: SilverReport) -> dict[str, Any]:
    return {
        "rows_in": report.rows_in,
        "duplicate_rows_removed": report.duplicate_rows_removed,
        "superseded_rows_removed": report.superseded_rows_removed,
        "zero_dates_nulled": dg.MetadataValue.json(report.zero_dates),
        "impossible_dates_nulled": dg.MetadataValue.json(report.impossible_dates),
    }


def partitioned_check_specs(
    key: dg.AssetKey, partitions: dg.DailyPartitionsDefinition
) -> list[dg.AssetCheckSpec]:
    """Blocking checks with the asset's partitions, so each day has its own check result.

    (Dagster marks partitioned check specs as a preview; the warning says nothing a user can act
    on, so it is not shown.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [
            dg.AssetCheckSpec(
                name, asset=key, description=text, blocking=True, partitions_def=partitions
            )
            for name, text in CHECKS.items()
        ]


def build_silver_asset(
    schema: DatasetSchema, partitions: dg.DailyPartitionsDefinition
) -> dg.AssetsDefinition:
    key = dg.AssetKey(["silver", SOURCE, schema.name])

    @dg.asset(
        key=key,
        ins={"bronze": dg.AssetIn(key=dg.AssetKey(["bronze", SOURCE, schema.name]))},
        group_name=SOURCE,
        description=f"{schema.description} Typed, zero dates nulled, deduplicated.",
        kinds={"parquet", "duckdb", "silver"},
        owners=OWNERS,
        pool=POOL,
        tags=asset_tags("silver"),
        metadata={"preview_excluded": list(schema.preview_excluded), **SNAPSHOT_METADATA},
        partitions_def=partitions,
        check_specs=partitioned_check_specs(key, partitions),
    )
    def silver_table(context: AssetExecutionContext, bronze: StoredTable) -> Iterator[object]:
        with bronze.local_path() as path, staged_table() as staged:
            report = write_silver_file(path, staged.path, schema)
            results = check_results(key, schema, report)
            failed = [str(r.check_name) for r in results if not r.passed]
            if failed:
                staged.discard()  # the new table is never published
        yield from results
        if failed:
            raise DataContractError(
                "silver",
                SOURCE,
                schema.name,
                f"failed check(s) {', '.join(failed)}; previous table kept",
            )
        yield dg.Output(staged, metadata=report_metadata(report))

    return silver_table


def build_silver_assets(partitions: dg.DailyPartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_silver_asset(schema, partitions) for schema in DATASETS]
