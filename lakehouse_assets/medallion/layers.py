"""The bronze and silver assets a source gets for each JSON dataset it declares.

Bronze keeps every field of the raw snapshot as text plus ingestion columns; silver types it with
the one engine, removes duplicates and publishes only when its blocking checks pass. Both guard
the volume: a table far smaller than the current one is not published (see ``checks``).
Both compare the ingestion's schema with the contract and the last accepted one (``drift``):
bronze reports the change (``schema_change``, the WARN check ``schema_drift``); silver blocks a
breaking one, quarantines its raw snapshot and alerts once. Both keep their current table
instead of rebuilding it when their input is the one it was built from (``reuse``).
"""

import dataclasses
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from lakehouse_assets.engines.choice import Engine
from lakehouse_assets.engines.resource import EnginesResource
from lakehouse_assets.errors import DataContractError, SourceError
from lakehouse_assets.lake import parquet as parquet_module
from lakehouse_assets.lake import parquet_splice as splice_module
from lakehouse_assets.lake.layout import TableAddress, ingested_at
from lakehouse_assets.lake.parquet import write_parquet
from lakehouse_assets.lake.table_files import StoredTable, staged_table
from lakehouse_assets.medallion import bronze as bronze_module
from lakehouse_assets.medallion import engine as engine_module
from lakehouse_assets.medallion import incremental as incremental_module
from lakehouse_assets.medallion import silver as silver_module
from lakehouse_assets.medallion import text_rules as text_rules_module
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
    DRIFT_CHECK,
    SCHEMA_CHANGE,
    AcceptedSchema,
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
from lakehouse_assets.medallion.incremental import (
    INCREMENTAL,
    SILVER_REPORT,
    report_of,
    splice_bronze,
    splice_silver,
)
from lakehouse_assets.medallion.partitions import SNAPSHOT_METADATA
from lakehouse_assets.medallion.raw import snapshot_for_step
from lakehouse_assets.medallion.reuse import (
    INPUT_FINGERPRINT,
    code_version,
    current_base,
    fingerprint,
    kept_current_table,
    raw_fingerprint,
    schema_signature,
    upstream_values,
)
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
    modules = [bronze_module, engine_module, parquet_module, incremental_module, splice_module]
    if rows_of_snapshot is not None:
        modules.append(sys.modules[rows_of_snapshot.__module__])
    code = code_version(*modules)

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
        raw_sha = raw_fingerprint(context, lake, source.key("raw", schema.name), snapshot)
        built_from = fingerprint("bronze", raw_sha, schema_signature(schema), code)
        base = current_base(context, lake, key)
        if base is not None and base.fingerprint == built_from:
            # The schema drift check still compares the kept table with the accepted schema.
            address = TableAddress.from_asset_key(key)
            with store.open_read(lake.bucket("bronze"), address.table_key()) as handle:
                kept_columns = columns_of(pq.read_schema(handle))
            change = compare(kept_columns, _drift_baseline(context, key, source, schema), schema)
            yield from kept_current_table(
                context,
                key,
                base,
                built_from,
                checks={DRIFT_CHECK: drift_check_result(key, change)},
                metadata={SCHEMA_CHANGE: change.metadata()},
            )
            return
        moment = ingested_at(snapshot.key)
        if moment is None:
            raise SourceError(
                source.name, schema.name, f"raw snapshot key {snapshot.key} has no timestamp"
            )
        base_snapshot = None if base is None else base.values.get("raw_snapshot")
        spliced = None
        with store.local_copy(bucket, snapshot.key) as path, staged_table() as staged:
            if rows_of_snapshot is None and isinstance(base_snapshot, str):
                table = lake.bucket("bronze"), TableAddress.from_asset_key(key).table_key()
                with store.local_copy(*table) as current_path:
                    spliced = splice_bronze(
                        lake,
                        source.name,
                        schema.name,
                        base_snapshot,
                        current_path,
                        snapshot.key,
                        path,
                        staged.path,
                    )
            if spliced is not None:
                rows = spliced.rows
            elif rows_of_snapshot is None:
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
        change = compare(columns, _drift_baseline(context, key, source, schema), schema)
        if change.changed:
            context.log.warning(f"bronze {source.name}/{schema.name}: {change.describe()}")
        yield dg.Output(
            staged,
            metadata={
                "raw_snapshot": snapshot.key,
                "extra_columns": extra,
                SCHEMA_CHANGE: change.metadata(),
                INPUT_FINGERPRINT: built_from,
                **(
                    {}
                    if spliced is None or base is None
                    else {INCREMENTAL: {**spliced.metadata(), "base_fingerprint": base.fingerprint}}
                ),
            },
        )
        yield drift_check_result(key, change)

    return bronze_layer


def _drift_baseline(
    context: dg.AssetExecutionContext, key: dg.AssetKey, source: Source, schema: DatasetSchema
) -> AcceptedSchema | None:
    """What bronze's schema is compared with: silver's last accepted one, else bronze's."""
    silver_key = source.key("silver", schema.name)
    return last_accepted(context.instance, silver_key, BRONZE_SCHEMA) or last_accepted(
        context.instance, key, None, exclude_run_id=context.run.run_id
    )


def build_silver_asset(
    source: Source,
    schema: DatasetSchema,
    partitions: dg.PartitionsDefinition,
    *,
    description: str | None = None,
) -> dg.AssetsDefinition:
    """Silver typed by the engine from bronze, published only when every check passes."""
    key = source.key("silver", schema.name)
    bronze_key = source.key("bronze", schema.name)
    checks = {**SILVER_CHECKS, VOLUME_CHECK: VOLUME_DESCRIPTION}
    code = code_version(
        silver_module,
        text_rules_module,
        engine_module,
        parquet_module,
        incremental_module,
        splice_module,
    )

    def built_from_bronze(bronze_fingerprint: object) -> str:
        return fingerprint("silver", str(bronze_fingerprint), schema_signature(schema), code)

    @dg.asset(
        key=key,
        ins={"bronze": dg.AssetIn(key=bronze_key)},
        description=description or f"{schema.description} Typed, zero dates nulled, deduplicated.",
        metadata={"preview_excluded": list(schema.preview_excluded), **SNAPSHOT_METADATA},
        partitions_def=partitions,
        check_specs=check_specs(key, partitions, checks),
        **source.asset_options("silver"),
    )
    def silver_table(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        engines: EnginesResource,
        bronze: StoredTable,
    ) -> Iterator[object]:
        engine = engines.engine(source.name, "silver")
        upstream = upstream_values(context, bronze_key)
        built_from = None
        base = current_base(context, lake, key)
        if upstream.get(INPUT_FINGERPRINT) is not None:
            built_from = built_from_bronze(upstream[INPUT_FINGERPRINT])
            if base is not None and base.fingerprint == built_from:
                yield from kept_current_table(context, key, base, built_from)
                return
        bronze_splice = upstream.get(INCREMENTAL)
        if not (
            engine is Engine.DUCKDB  # the incremental merge is the DuckDB engine's
            and isinstance(bronze_splice, dict)
            and base is not None
            and isinstance(base.values.get(SILVER_REPORT), dict)
            and base.fingerprint == built_from_bronze(bronze_splice["base_fingerprint"])
        ):
            bronze_splice = None
        baseline = last_accepted(context.instance, key, BRONZE_SCHEMA)
        spliced = None
        engine_metadata: dict[str, Any] = {"engine": engine.value}
        with bronze.local_path() as path, staged_table() as staged:
            columns = columns_of(pq.read_schema(path))
            snapshot = bronze_snapshot(path)
            if bronze_splice is not None and base is not None:
                table = lake.bucket("silver"), TableAddress.from_asset_key(key).table_key()
                with lake.object_store().local_copy(*table) as current_path:
                    spliced = splice_silver(
                        lake,
                        source.name,
                        schema,
                        path,
                        bronze_splice,
                        current_path,
                        report_of(base.values[SILVER_REPORT]),  # type: ignore[arg-type]
                        staged.path,
                    )
            if spliced is not None:
                report, splice_info = spliced
            elif engine is Engine.SPARK:
                from lakehouse_assets.engines.spark import spark_metadata, spark_silver

                report, run = spark_silver(
                    context, engines, lake, source.name, schema, bronze, path, staged.path
                )
                engine_metadata = spark_metadata(run)
            else:
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
        fingerprinted: dict[str, Any] = {}
        if built_from is not None:
            fingerprinted[INPUT_FINGERPRINT] = built_from
        if spliced is not None:
            fingerprinted[INCREMENTAL] = splice_info.metadata()
        yield dg.Output(
            staged,
            metadata={
                **silver_report_metadata(report),
                **accepted_metadata(snapshot, columns),
                **fingerprinted,
                **engine_metadata,
                SILVER_REPORT: dg.MetadataValue.json(dataclasses.asdict(report)),
            },
        )

    return silver_table
