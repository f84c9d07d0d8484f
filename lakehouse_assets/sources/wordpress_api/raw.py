"""Raw layer: each ingestion downloads every endpoint and keeps the JSON as a new snapshot."""

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from lakehouse_assets import settings
from lakehouse_assets.errors import ConfigurationError, SourceError
from lakehouse_assets.lake.object_store import ObjectStore
from lakehouse_assets.lake.resource import LakeResource
from lakehouse_assets.lake.snapshots import latest_snapshot, snapshot_key
from lakehouse_assets.resources.parameters import ParametersResource
from lakehouse_assets.settings import PipelineSettings
from lakehouse_assets.sources.wordpress_api.datasets import DATASETS, SOURCE
from lakehouse_assets.sources.wordpress_api.endpoints import resolve_endpoints
from lakehouse_assets.sources.wordpress_api.partitions import today
from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource
from lakehouse_assets.sources.wordpress_api.tags import OWNERS, POOL, asset_tags
from lakehouse_assets.transforms.schema import DatasetSchema


def endpoint_url(parameters: ParametersResource, dataset: str, log: dg.DagsterLogManager) -> str:
    """The dataset's endpoint, resolved by derived name from the parameter each run."""
    name = settings.PARAMETER_NAMES.wordpress_endpoints
    resolved = resolve_endpoints(parameters.get_list(name), [d.name for d in DATASETS])
    for undeclared in resolved.undeclared:
        log.warning(
            f"{SOURCE}: endpoint for dataset {undeclared!r} has no declared dataset; skipped"
        )
    if dataset not in resolved.urls:
        raise ConfigurationError(
            f"{SOURCE}/{dataset}: no endpoint in parameter {name} maps to this dataset"
        )
    return resolved.urls[dataset]


def raw_retry_policy(pipeline: PipelineSettings) -> dg.RetryPolicy:
    """Step retries for what outlasts the HTTP client's own retries (a longer outage).

    Only transient errors are retried (LakehouseError.transient → Failure.allow_retries):
    validation and configuration errors fail at once.
    """
    return dg.RetryPolicy(
        max_retries=2,
        delay=pipeline.step_retry_delay_seconds,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


def build_raw_asset(
    schema: DatasetSchema, partitions: dg.DailyPartitionsDefinition, pipeline: PipelineSettings
) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", SOURCE, schema.name],
        group_name=SOURCE,
        description=f"Raw JSON snapshots of the {schema.name} endpoint, kept per ingestion day.",
        kinds={"json", "raw"},
        owners=OWNERS,
        pool=POOL,
        tags=asset_tags("raw"),
        partitions_def=partitions,
        retry_policy=raw_retry_policy(pipeline),
    )
    def raw_snapshot(
        context: AssetExecutionContext,
        parameters: ParametersResource,
        lake: LakeResource,
        wordpress_api: WordPressApiResource,
    ) -> dg.MaterializeResult:
        what = f"{SOURCE}/{schema.name}"
        day = context.partition_key
        bucket = lake.bucket("raw")
        store = lake.object_store()
        current_day = today(partitions)
        if day > current_day:
            raise ConfigurationError(f"{what}: partition {day} is in the future")
        if day < current_day:
            return reuse_kept_snapshot(context, store, bucket, schema.name, day)
        url = endpoint_url(parameters, schema.name, context.log)
        wordpress_api.check_url(url, what)
        fetched_at = datetime.now(UTC)
        key = snapshot_key(SOURCE, schema.name, day, fetched_at, context.run.run_id)
        with tempfile.TemporaryDirectory(prefix="lakehouse-raw-") as directory:
            download = wordpress_api.client().download(
                SOURCE, schema.name, url, Path(directory) / "snapshot.json"
            )
            store.put_file(bucket, key, download.path, create_only=True)
        context.log.info(f"raw {what}: {download.rows} rows in {download.pages} page(s) → {key}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": download.rows,
                "dagster/uri": dg.MetadataValue.path(store.uri(bucket, key)),
                "snapshot_key": key,
                "pages": download.pages,
                "http_attempts": download.attempts,
                "size_bytes": download.size_bytes,
                "sha256": download.sha256,
                "fetched_at": fetched_at.isoformat(),
                "reused_kept_snapshot": False,
            }
        )

    return raw_snapshot


def reuse_kept_snapshot(
    context: AssetExecutionContext, store: ObjectStore, bucket: str, dataset: str, day: str
) -> dg.MaterializeResult:
    """A past day cannot be fetched again (endpoints serve current data): use the kept snapshot."""
    kept = latest_snapshot(store, bucket, SOURCE, dataset, ingest_date=day)
    if kept is None:
        raise SourceError(
            SOURCE,
            dataset,
            f"no raw snapshot was kept for {day}: endpoints serve only current data, so a past "
            "day can be rebuilt only from a snapshot ingested that day",
        )
    context.log.info(f"raw {SOURCE}/{dataset}: {day} rebuilt from kept snapshot {kept.key}")
    return dg.MaterializeResult(
        metadata={
            "dagster/uri": dg.MetadataValue.path(store.uri(bucket, kept.key)),
            "snapshot_key": kept.key,
            "size_bytes": kept.size,
            "reused_kept_snapshot": True,
        }
    )


def build_raw_assets(
    partitions: dg.DailyPartitionsDefinition, pipeline: PipelineSettings
) -> list[dg.AssetsDefinition]:
    return [build_raw_asset(schema, partitions, pipeline) for schema in DATASETS]
