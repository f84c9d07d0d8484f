"""Blocking checks every source's tables get: silver's contract checks and the volume guard.

Checks are computed on the new table before it is published. A failed blocking check fails the
step: the previous table stays current, nothing downstream is built, and the layer is alerted.
"""

from __future__ import annotations

import warnings
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from lakehouse_assets import settings
from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.drift import AcceptedSchema
from lakehouse_assets.medallion.silver import SilverReport
from lakehouse_assets.resources.lake import LakeResource

SILVER_CHECKS = {
    "expected_columns": "Every declared column is present.",
    "non_empty": "The table has at least one row.",
    "unique_non_null_keys": "Key columns are non-null and unique.",
    "parseable_dates": "Date columns hold dates; zero and impossible dates are nulled, counted.",
    "typed_integers": "Integer columns hold integers.",
}
VOLUME_CHECK = "volume"
VOLUME_DESCRIPTION = (
    "The new table is not far smaller than the current one (LAKEHOUSE_MAX_SHRINK, default a "
    "drop of 50%); `lakehouse run --accept-shrink` lets a real shrink through."
)


def check_specs(
    key: dg.AssetKey,
    partitions: dg.PartitionsDefinition | None,
    checks: dict[str, str],
) -> list[dg.AssetCheckSpec]:
    """Blocking checks with the asset's partitions, so each partition has its own result.

    (Dagster marks partitioned check specs as a preview; the warning says nothing a user can act
    on, so it is not shown.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [
            dg.AssetCheckSpec(
                name, asset=key, description=text, blocking=True, partitions_def=partitions
            )
            for name, text in checks.items()
        ]


def silver_check_results(
    key: dg.AssetKey,
    schema: DatasetSchema,
    report: SilverReport,
    baseline: AcceptedSchema | None = None,
) -> list[dg.AssetCheckResult]:
    """Silver's contract checks; a failure's description names the drift (which column, which
    change) against ``baseline``, the schema the table last accepted."""
    descriptions = drift_descriptions(schema, report, baseline)

    def result(name: str, passed: bool, **metadata: Any) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=name,
            passed=passed,
            metadata=dict(metadata),
            description=descriptions.get(name) if not passed else None,
        )

    examples = report.unparseable_examples
    collisions = key_collisions(schema, report)
    return [
        result(
            "expected_columns",
            not report.missing_columns,
            missing_columns=", ".join(report.missing_columns) or "none",
            expected=", ".join(schema.column_names),
            extra_columns=", ".join(report.extra_columns) or "none",
        ),
        result("non_empty", report.rows_out > 0, rows=report.rows_out),
        result(
            "unique_non_null_keys",
            report.null_keys == 0 and report.duplicate_keys == 0,
            key=", ".join(schema.key),
            null_keys=report.null_keys,
            duplicate_keys=report.duplicate_keys,
            key_collisions=collisions,
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


def key_collisions(schema: DatasetSchema, report: SilverReport) -> int:
    """Rows that lost their key to a different row although the dataset declares no rule
    (``latest_by``) to choose between them. Reported, not blocking: duplicate ids are
    deduplicated deterministically (the last row wins), as the contracts ask."""
    return 0 if schema.latest_by else report.superseded_rows_removed


def drift_descriptions(
    schema: DatasetSchema, report: SilverReport, baseline: AcceptedSchema | None
) -> dict[str, str]:
    """Check name → what drifted, for the checks a breaking schema change fails."""
    types = {c.name: c.type for c in schema.columns}
    origin = baseline.origin if baseline is not None and baseline.origin else None
    against = (
        f"compared with the last accepted schema (raw snapshot {origin})"
        if origin
        else "compared with the last accepted schema"
        if baseline is not None
        else "no accepted schema to compare with"
    )
    accepted = baseline.columns if baseline is not None else {}
    typed = baseline.typed if baseline is not None else {}
    out: dict[str, str] = {}
    if report.missing_columns:
        columns = []
        for column in report.missing_columns:
            was = "present" if column in accepted else "absent"
            columns.append(f"{column} (declared {types.get(column)}, {was} in the accepted one)")
        out["expected_columns"] = f"removed declared column(s) {', '.join(columns)}, {against}"
    for check, counts, kind in (
        ("typed_integers", report.unparseable_integers, "int64"),
        ("parseable_dates", report.unparseable_dates, "datetime"),
    ):
        if counts:
            changes = []
            for column, n in sorted(counts.items()):
                examples = report.unparseable_examples.get(column, [])
                was = typed.get(column) or types.get(column) or kind
                changes.append(
                    f"{column}: type changed, {n} value(s) no longer parse as {types.get(column)}"
                    f" (e.g. {examples}; accepted as {was})"
                )
            out[check] = f"{'; '.join(changes)}, {against}"
    collisions = key_collisions(schema, report)
    if report.null_keys or report.duplicate_keys or collisions:
        out["unique_non_null_keys"] = (
            f"key {', '.join(schema.key)} stopped being unique and non-null: "
            f"{report.duplicate_keys + collisions} row(s) colliding on a key, "
            f"{report.null_keys} null key(s), "
            f"{against}"
        )
    return out


def _describe(counts: dict[str, int], examples: dict[str, list[str]]) -> str:
    if not counts:
        return "none"
    return "; ".join(f"{c}: {n} (e.g. {examples.get(c, [])})" for c, n in sorted(counts.items()))


def silver_report_metadata(report: SilverReport) -> dict[str, Any]:
    return {
        "rows_in": report.rows_in,
        "duplicate_rows_removed": report.duplicate_rows_removed,
        "superseded_rows_removed": report.superseded_rows_removed,
        "zero_dates_nulled": dg.MetadataValue.json(report.zero_dates),
        "impossible_dates_nulled": dg.MetadataValue.json(report.impossible_dates),
        "extra_columns": dg.MetadataValue.json(report.extra_columns),
    }


def current_rows(lake: LakeResource, address: TableAddress, partition: str | None) -> int | None:
    """Rows of the table the new version would replace, or None when it replaces none.

    A snapshot partition older than the newest kept one does not replace the current table (a
    backfill of a past day), so it is not compared.
    """
    store = lake.object_store()
    bucket = lake.bucket(address.layer)
    current = address.table_key()
    if partition is not None:
        listed = store.list(bucket, address.snapshots_prefix)
        kept = (parsed[0] for o in listed if (parsed := address.parse_snapshot_key(o.key)))
        newest = max(kept, default=None)
        if newest is not None and partition < newest:
            return None
    if store.info(bucket, current) is None:
        return None
    with store.local_copy(bucket, current) as path:
        return pq.ParquetFile(path).metadata.num_rows


def volume_check(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    key: dg.AssetKey,
    new_rows: int,
) -> dg.AssetCheckResult:
    """Pass unless ``new_rows`` is a drop beyond the allowed fraction of the current table."""
    guard = settings.volume_guard()
    accepted = guard.accepted or context.run.tags.get(settings.ACCEPT_SHRINK_TAG) == "true"
    address = TableAddress.from_asset_key(key)
    partition = context.partition_key if context.has_partition_key else None
    previous = current_rows(lake, address, partition)
    floor = None if previous is None else previous * (1.0 - guard.max_drop_fraction)
    shrank = floor is not None and new_rows < floor
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=VOLUME_CHECK,
        passed=not shrank or accepted,
        metadata={
            "new_rows": new_rows,
            "current_rows": -1 if previous is None else previous,
            "max_drop_fraction": guard.max_drop_fraction,
            "shrink_accepted": bool(shrank and accepted),
        },
        description=(
            f"{new_rows} rows would replace {previous}" if shrank else "no drop beyond the limit"
        ),
    )


def shrink_problem(result: dg.AssetCheckResult) -> str:
    metadata = result.metadata
    new_rows = metadata["new_rows"].value
    previous = metadata["current_rows"].value
    fraction = float(metadata["max_drop_fraction"].value)  # type: ignore[arg-type]
    return (
        f"{new_rows} rows would replace the current {previous} (a drop beyond "
        f"{fraction:.0%}); previous table kept. If the source really shrank, rerun with "
        "`lakehouse run --accept-shrink` (or LAKEHOUSE_ACCEPT_SHRINK=1)"
    )
