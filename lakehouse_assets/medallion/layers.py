"""The bronze and silver assets a source gets for each JSON dataset it declares.

Bronze keeps every field of the raw snapshot as text plus ingestion columns; silver types it with
the one engine, removes duplicates and publishes only when its blocking checks pass. Both guard
the volume: a table far smaller than the current one is not published (see ``checks``).
Both compare the ingestion's schema with the contract and the last accepted one (``drift``):
bronze reports the change (``schema_change``, the WARN check ``schema_drift``); silver blocks a
breaking one, quarantines its raw snapshot and alerts once.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from lakehouse_assets.errors import DataContractError, SourceError
from lakehouse_assets.lake.layout import ingested_at
from lakehouse_assets.lake.parquet import write_parquet
from lakehouse_assets.lake.table_files import StoredTable, staged_table
from lakehouse_assets.medallion.bronze import bronze_table, write_bronze_file
from lakehouse_assets.medallion.checks import (
    SILVER_CHECKS,
    VOLUME_CHECK,
    VOLUME_DESCRIPTION,
    check_specs,
    shrink_problem,
    silver_check_results,
    silver_report_metadata,
    volume_check,
)
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.drift import (
    BRONZE_SCHEMA,
    SCHEMA_CHANGE,
    accepted_metadata,
    blocked_observation,
    breaking,
    bronze_snapshot,
    columns_of,
    compare,
    drift_check_result,
    drift_check_spec,
    last_accepted,
    quarantine_drifted_snapshot,
    with_drift_metadata,
)
from lakehouse_assets.medallion.partitions import SNAPSHOT_METADATA
from lakehouse_assets.medallion.raw import snapshot_for_step
from lakehouse_assets.medallion.silver import write_silver_file
from lakehouse_assets.medallion.source import Source
from lakehouse_assets.resources.lake import LakeResource


def volume_spec(
    key: dg.AssetKey, partitions: dg.PartitionsDefinition | None
) -> list[dg.AssetCheckSpec]:
    return check_specs(key, partitions, {VOLUME_CHECK: VOLUME_DESCRIPTION})


def fail_if_shrunk(result: dg.AssetCheckResult, layer: str, source: str, dataset: str) -> None:
    if not result.passed:
        raise DataContractError(layer, source, dataset, shrink_problem(result))


#: A source's rule for raw snapshots that are not a JSON array of rows (API pages, say): the
#: snapshot file → its bronze rows, every value text.
RowsOfSnapshot = Callable[[Path], list[dict[str, Any]]]


def build_bronze_asset(
    source: Source,
    schema: DatasetSchema,
    partitions: dg.PartitionsDefinition,
    *,
    description: str | None = None,
    rows_of_snapshot: RowsOfSnapshot | None = None,
) -> dg.AssetsDefinition:
    """Bronze from the raw snapshot the raw step of the same partition kept: a JSON array of
    rows, streamed; or, with ``rows_of_snapshot``, the rows that rule makes of it."""
    key = source.key("bronze", schema.name)

    @dg.asset(
        key=key,
        deps=[source.key("raw", schema.name)],
        description=description
        or f"{schema.description} Every field of the raw snapshot, as text.",
        metadata={"preview_excluded": list(schema.preview_excluded), **SNAPSHOT_METADATA},
        partitions_def=partitions,
        check_specs=[*volume_spec(key, partitions), drift_check_spec(key, partitions)],
        **source.asset_options("bronze"),
    )
    def bronze_layer(context: dg.AssetExecutionContext, lake: LakeResource) -> Iterator[object]:
        store = lake.object_store()
        bucket = lake.bucket("raw")
        snapshot = snapshot_for_step(context, lake, source.name, schema.name)
        moment = ingested_at(snapshot.key)
        if moment is None:
            raise SourceError(
                source.name, schema.name, f"raw snapshot key {snapshot.key} has no timestamp"
            )
        with store.local_copy(bucket, snapshot.key) as path, staged_table() as staged:
            if rows_of_snapshot is None:
                rows = write_bronze_file(
                    path, staged.path, moment, snapshot.key, source.name, schema.name
                )
            else:
                table = bronze_table(rows_of_snapshot(path), moment, snapshot.key)
                write_parquet(table, staged.path)
                rows = table.num_rows
            volume = volume_check(context, lake, key, rows)
            if not volume.passed:
                staged.discard()
        yield volume
        fail_if_shrunk(volume, "bronze", source.name, schema.name)
        columns = columns_of(pq.read_schema(staged.path))
        extra = [c for c in columns if c not in schema.column_names]
        silver_key = source.key("silver", schema.name)
        baseline = last_accepted(context.instance, silver_key, BRONZE_SCHEMA) or last_accepted(
            context.instance, key, None, exclude_run_id=context.run.run_id
        )
        change = compare(columns, baseline, schema)
        if change.changed:
            context.log.warning(f"bronze {source.name}/{schema.name}: {change.describe()}")
        yield dg.Output(
            staged,
            metadata={
                "raw_snapshot": snapshot.key,
                "extra_columns": extra,
                SCHEMA_CHANGE: change.metadata(),
            },
        )
        yield drift_check_result(key, change)

    return bronze_layer


def build_silver_asset(
    source: Source,
    schema: DatasetSchema,
    partitions: dg.PartitionsDefinition,
    *,
    description: str | None = None,
) -> dg.AssetsDefinition:
    """Silver typed by the engine from bronze, published only when every check passes."""
    key = source.key("silver", schema.name)
    checks = {**SILVER_CHECKS, VOLUME_CHECK: VOLUME_DESCRIPTION}

    @dg.asset(
        key=key,
        ins={"bronze": dg.AssetIn(key=source.key("bronze", schema.name))},
        description=description or f"{schema.description} Typed, zero dates nulled, deduplicated.",
        metadata={"preview_excluded": list(schema.preview_excluded), **SNAPSHOT_METADATA},
        partitions_def=partitions,
        check_specs=check_specs(key, partitions, checks),
        **source.asset_options("silver"),
    )
    def silver_table(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        bronze: StoredTable,
    ) -> Iterator[object]:
        baseline = last_accepted(context.instance, key, BRONZE_SCHEMA)
        with bronze.local_path() as path, staged_table() as staged:
            columns = columns_of(pq.read_schema(path))
            snapshot = bronze_snapshot(path)
            report = write_silver_file(path, staged.path, schema)
            results = [
                *silver_check_results(key, schema, report, baseline),
                volume_check(context, lake, key, report.rows_out),
            ]
            failed = [str(r.check_name) for r in results if not r.passed]
            if failed:
                staged.discard()  # the new table is never published
        drifted = breaking(results)
        quarantined = None
        if drifted and snapshot is not None:
            quarantined = quarantine_drifted_snapshot(
                context,
                lake,
                key,
                snapshot,
                drifted,
                compare(columns, baseline, schema),
            )
            results = [with_drift_metadata(r, quarantined) for r in results]
        yield from results
        if failed:
            context.log_event(blocked_observation(context, key, snapshot, columns, failed))
            problem = f"failed check(s) {', '.join(failed)}; previous table kept"
            if failed == [VOLUME_CHECK]:
                problem = shrink_problem(results[-1])
            elif drifted:
                drift = "; ".join(f"{r.check_name}: {r.description}" for r in drifted)
                where = (
                    f"; raw snapshot quarantined at {quarantined.copy_key}" if quarantined else ""
                )
                problem = f"{problem}; schema drift: {drift}{where}"
            raise DataContractError("silver", source.name, schema.name, problem)
        yield dg.Output(
            staged,
            metadata={**silver_report_metadata(report), **accepted_metadata(snapshot, columns)},
        )

    return silver_table
