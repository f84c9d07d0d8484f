"""The assets a declared REST source gets: raw → bronze → silver per dataset, gold per query,
one job and one schedule, all on the medallion machinery every source shares.

Non-incremental bronze is the machinery's (``build_bronze_asset``, volume-guarded); the bronze
of a merged dataset holds only a run's new rows (a day without edits may have none), so it is
not compared with yesterday's, and its guard is silver's, whose merged table only grows.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from lakehouse_assets.automation.jobs import scheduled_source_definitions
from lakehouse_assets.components import model, runtime
from lakehouse_assets.components.silver import MergeReport, write_declared_silver, write_gold
from lakehouse_assets.errors import DataContractError, SourceError
from lakehouse_assets.lake.layout import TableAddress, ingested_at
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
from lakehouse_assets.medallion.datasets import Column, DatasetSchema
from lakehouse_assets.medallion.layers import build_bronze_asset, fail_if_shrunk, volume_spec
from lakehouse_assets.medallion.partitions import (
    SNAPSHOT_METADATA,
    daily_snapshots,
    weekly_snapshots,
)
from lakehouse_assets.medallion.raw import (
    SNAPSHOT_KEY_METADATA,
    check_partition,
    extract_retry_policy,
    new_snapshot,
    reuse_kept_snapshot,
    snapshot_for_step,
)
from lakehouse_assets.medallion.source import Source
from lakehouse_assets.observe.usage import step_usage_metadata
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.settings import PipelineSettings

TYPED_VALUES_CHECK = "typed_values"
TYPED_VALUES_DESCRIPTION = "Float, bool, JSON, list and nested-path columns hold their type."
#: The machinery's column type for each declared one (JSON and lists are text until silver).
MACHINERY_TYPES = {"json": "string", "list<int64>": "string", "list<string>": "string"}


def machinery_schema(dataset: model.DatasetSpec) -> DatasetSchema:
    """The dataset as the platform's contract type (what bronze, checks and previews read)."""
    columns = tuple(
        Column(name, MACHINERY_TYPES.get(dataset.column_type(name), dataset.column_type(name)))
        for name in dataset.columns
    )
    return DatasetSchema(
        dataset.name,
        dataset.description,
        columns,
        key=tuple(dataset.key),
        latest_by=tuple(dataset.latest_by),
        preview_excluded=tuple(dataset.preview_excluded),
    )


def build_source_definitions(
    spec: model.RestSourceSpec, sql: dict[str, str], pipeline: PipelineSettings
) -> dg.Definitions:
    """Every asset, the job and the schedule of one declared source (``sql``: gold → query)."""
    source = Source(spec.source, spec.description, tuple(spec.owners))
    weekly = spec.schedule.cadence == "weekly"
    partitions = weekly_snapshots(pipeline) if weekly else daily_snapshots(pipeline)
    assets: list[dg.AssetsDefinition] = []
    for dataset in spec.datasets:
        schema = machinery_schema(dataset)
        assets.append(_raw_asset(spec, dataset, source, partitions, pipeline))
        if dataset.merged:
            assets.append(_delta_bronze_asset(source, schema, partitions))
        else:
            assets.append(build_bronze_asset(source, schema, partitions))
        assets.append(_silver_asset(source, dataset, schema, partitions))
    for gold in spec.gold:
        assets.append(_gold_asset(source, gold, sql[gold.name], partitions))
    return scheduled_source_definitions(
        source,
        assets,
        pipeline,
        job_description=f"Every {spec.source} asset for one {'week' if weekly else 'day'}: "
        "raw to gold.",
        schedule_name=f"{spec.source}_{spec.schedule.cadence}",
        schedule_description=f"Ingests {spec.source} {spec.schedule.cadence} and rebuilds "
        "bronze to gold.",
        hour_of_day=spec.schedule.hour_of_day,
        day_of_week=spec.schedule.day_of_week if weekly else None,
    )


def _raw_asset(
    spec: model.RestSourceSpec,
    dataset: model.DatasetSpec,
    source: Source,
    partitions: dg.TimeWindowPartitionsDefinition,
    pipeline: PipelineSettings,
) -> dg.AssetsDefinition:
    parent = dataset.parent
    what = f"{source.name}/{dataset.name}"
    changed = " (only what changed since the last load)" if dataset.incremental else ""
    retry_policy = extract_retry_policy(pipeline)

    @dg.asset(
        key=source.key("raw", dataset.name),
        deps=[source.key("raw", parent.dataset)] if parent else [],
        description=f"Raw JSON snapshots of the {dataset.name} endpoint{changed}, kept per run.",
        partitions_def=partitions,
        retry_policy=retry_policy,
        required_resource_keys={"parameters", "lake", "secrets", spec.resource},
        **source.asset_options("raw", kinds=("json", "raw")),
    )
    def raw_snapshot(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        lake: LakeResource = context.resources.lake
        if not check_partition(partitions, context.partition_key, what):
            return reuse_kept_snapshot(context, lake, source.name, dataset.name)
        http = getattr(context.resources, spec.resource)
        parameters = context.resources.parameters
        base_url = parameters.get_string(spec.base_url_parameter)
        http.check_url(base_url, what)
        url = runtime.endpoint_url(base_url, dataset.path)
        runtime.check_same_origin(base_url, url, source.name)
        lake.bucket("raw")  # every bucket name validated before the first request
        params = spec.params_of(dataset)
        fields_param = spec.fields_param_of(dataset)
        if fields_param:
            params[fields_param] = runtime.requested_fields(dataset)
        metadata: dict[str, Any] = {}
        if dataset.incremental is not None:
            cursor = _cursor(lake, source, dataset, context.partition_key)
            metadata["cursor_param"] = dataset.incremental.param
            metadata["cursor_value"] = cursor or "(none: a full load)"
            if cursor is not None:
                params[dataset.incremental.param] = cursor
        client = http.client()
        client.session.auth = runtime.build_auth(
            spec, base_url, context.resources.secrets, parameters, http
        )
        paging = runtime.paginator(spec.paginator_of(dataset), spec.record_path_of(dataset))
        fetched_at = runtime.fetched_now()
        with new_snapshot(
            context, lake, source.name, dataset.name, retry_policy, fetched_at
        ) as snapshot:
            dest = snapshot.path
            if parent is None:
                download = client.download(
                    source.name, dataset.name, runtime.with_query(url, params), dest, paging=paging
                )
                rows, pages, attempts = download.rows, download.pages, download.attempts
            else:
                kept = snapshot_for_step(context, lake, source.name, parent.dataset)
                store = lake.object_store()
                with store.local_copy(lake.bucket("raw"), kept.key) as parent_path:
                    values = runtime.parent_values(parent_path, parent.field)
                column = parent.column or f"{parent.dataset}_{parent.field}"
                before = client.attempts
                rows, pages = runtime.download_children(
                    client,
                    source.name,
                    dataset.name,
                    runtime.with_query(url, params),
                    parent.field,
                    values,
                    paging,
                    column,
                    dest,
                )
                attempts = client.attempts - before
                metadata["parents"] = len(values)
        key = snapshot.key  # rows, pages and key go in the metadata, not a log line (an event)
        store = lake.object_store()
        return dg.MaterializeResult(
            metadata={
                **step_usage_metadata(),
                "dagster/row_count": rows,
                "dagster/uri": dg.MetadataValue.path(store.uri(lake.bucket("raw"), key)),
                SNAPSHOT_KEY_METADATA: key,
                "pages": pages,
                "http_attempts": attempts,
                "fetched_at": fetched_at.isoformat(),
                "reused_kept_snapshot": False,
                **metadata,
            }
        )

    return raw_snapshot


def _cursor(
    lake: LakeResource, source: Source, dataset: model.DatasetSpec, partition: str
) -> str | None:
    """The incremental parameter's value, from the silver version this run merges into."""
    incremental = dataset.incremental
    assert incremental is not None
    store = lake.object_store()
    bucket = lake.bucket("silver")
    address = TableAddress("silver", source.name, dataset.name)
    base = runtime.merge_base_key(store, bucket, address, partition)
    newest = None
    if base is not None:
        with store.local_copy(bucket, base) as path:
            newest = runtime.newest_value(path, incremental.field)
    return runtime.cursor_text(incremental, dataset.column_type(incremental.field), newest)


def _delta_bronze_asset(
    source: Source, schema: DatasetSchema, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    @dg.asset(
        key=source.key("bronze", schema.name),
        deps=[source.key("raw", schema.name)],
        description=f"{schema.description} The run's new rows, every field as text.",
        metadata={"preview_excluded": list(schema.preview_excluded), **SNAPSHOT_METADATA},
        partitions_def=partitions,
        **source.asset_options("bronze"),
    )
    def bronze_delta(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.Output:
        store = lake.object_store()
        snapshot = snapshot_for_step(context, lake, source.name, schema.name)
        moment = ingested_at(snapshot.key)
        if moment is None:
            raise SourceError(source.name, schema.name, f"raw snapshot {snapshot.key} has no time")
        with store.local_copy(lake.bucket("raw"), snapshot.key) as path, staged_table() as staged:
            if path.read_bytes().strip() in (b"[]", b""):
                write_parquet(bronze_table([], moment, snapshot.key), staged.path)
            else:
                write_bronze_file(path, staged.path, moment, snapshot.key, source.name, schema.name)
        return dg.Output(staged, metadata={"raw_snapshot": snapshot.key})

    return bronze_delta


def _allowing_empty(
    dataset: model.DatasetSpec, results: list[dg.AssetCheckResult]
) -> list[dg.AssetCheckResult]:
    """``results`` with ``non_empty`` passed where the dataset declares ``allow_empty``."""
    if not dataset.allow_empty:
        return results
    return [
        dg.AssetCheckResult(
            asset_key=r.asset_key,
            check_name=r.check_name,
            passed=True,
            metadata={**r.metadata, "allow_empty": True},
        )
        if r.check_name == "non_empty"
        else r
        for r in results
    ]


def _silver_asset(
    source: Source,
    dataset: model.DatasetSpec,
    schema: DatasetSchema,
    partitions: dg.PartitionsDefinition,
) -> dg.AssetsDefinition:
    key = source.key("silver", dataset.name)
    checks = {
        **SILVER_CHECKS,
        TYPED_VALUES_CHECK: TYPED_VALUES_DESCRIPTION,
        VOLUME_CHECK: VOLUME_DESCRIPTION,
    }
    merged = " merged by key into the previous version" if dataset.merged else ""

    @dg.asset(
        key=key,
        ins={"bronze": dg.AssetIn(key=source.key("bronze", dataset.name))},
        description=f"{dataset.description} Typed as declared{merged}, deduplicated.",
        metadata={"preview_excluded": list(dataset.preview_excluded), **SNAPSHOT_METADATA},
        partitions_def=partitions,
        check_specs=check_specs(key, partitions, checks),
        **source.asset_options("silver"),
    )
    def silver_table(
        context: dg.AssetExecutionContext, lake: LakeResource, bronze: StoredTable
    ) -> Iterator[object]:
        store = lake.object_store()
        bucket = lake.bucket("silver")
        base = None
        if dataset.merged:
            address = TableAddress.from_asset_key(key)
            base = runtime.merge_base_key(store, bucket, address, context.partition_key)
        with contextlib.ExitStack() as stack:
            path = stack.enter_context(bronze.local_path())
            previous = stack.enter_context(store.local_copy(bucket, base)) if base else None
            staged = stack.enter_context(staged_table())
            report = write_declared_silver(path, previous, staged.path, dataset)
            results = [
                *_allowing_empty(dataset, silver_check_results(key, schema, report)),
                _typed_values(key, report),
                volume_check(context, lake, key, report.rows_out),
            ]
            failed = [str(r.check_name) for r in results if not r.passed]
            if failed:
                staged.discard()
        yield from results
        if failed:
            problem = f"failed check(s) {', '.join(failed)}; previous table kept"
            if failed == [VOLUME_CHECK]:
                problem = shrink_problem(results[-1])
            raise DataContractError("silver", source.name, dataset.name, problem)
        yield dg.Output(staged, metadata=_silver_metadata(report, base))

    return silver_table


def _typed_values(key: dg.AssetKey, report: MergeReport) -> dg.AssetCheckResult:
    untyped = report.untyped_values
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=TYPED_VALUES_CHECK,
        passed=not untyped,
        metadata={
            "failing_rows": sum(untyped.values()),
            "untyped": "; ".join(f"{c}: {n}" for c, n in sorted(untyped.items())) or "none",
        },
    )


def _silver_metadata(report: MergeReport, base: str | None) -> dict[str, Any]:
    metadata = silver_report_metadata(report)
    if report.absent_optional_columns:
        metadata["absent_optional_columns"] = ", ".join(report.absent_optional_columns)
    if base is not None or report.rows_previous:
        metadata.update(
            merged_into=base or "",
            rows_previous=report.rows_previous,
            rows_inserted=report.rows_inserted,
            rows_updated=report.rows_updated,
        )
    return metadata


def _gold_asset(
    source: Source, gold: model.GoldSpec, sql: str, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    key = source.key("gold", gold.name)

    @dg.asset(
        key=key,
        ins={
            name: dg.AssetIn(key=source.key("silver", name), dagster_type=StoredTable)
            for name in gold.inputs
        },
        description=gold.description,
        metadata={**SNAPSHOT_METADATA, "sql": dg.MetadataValue.md(f"```sql\n{sql}\n```")},
        partitions_def=partitions,
        check_specs=volume_spec(key, partitions),
        **source.asset_options("gold"),
    )
    def gold_table(
        context: dg.AssetExecutionContext, lake: LakeResource, **inputs: StoredTable
    ) -> Iterator[object]:
        with contextlib.ExitStack() as stack:
            paths = {name: stack.enter_context(t.local_path()) for name, t in inputs.items()}
            staged = stack.enter_context(staged_table())
            rows = write_gold(sql, paths, staged.path)
            if rows == 0:
                raise DataContractError(
                    "gold", source.name, gold.name, "the query gave no rows; previous table kept"
                )
            volume = volume_check(context, lake, key, rows)
            if not volume.passed:
                staged.discard()
        yield volume
        fail_if_shrunk(volume, "gold", source.name, gold.name)
        yield dg.Output(staged, metadata={"columns": pq.read_schema(staged.path).names})

    return gold_table
