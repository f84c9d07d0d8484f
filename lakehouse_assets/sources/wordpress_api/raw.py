"""Raw layer: each ingestion downloads every endpoint and keeps the JSON as a new snapshot."""

from datetime import UTC, datetime

import dagster as dg

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.raw import (
    SNAPSHOT_KEY_METADATA,
    check_partition,
    extract_retry_policy,
    new_snapshot,
    reuse_kept_snapshot,
)
from lakehouse_assets.observe.usage import step_usage_metadata
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.resources.parameters import ParametersResource
from lakehouse_assets.settings import PipelineSettings
from lakehouse_assets.sources.wordpress_api.datasets import (
    DATASETS,
    ENDPOINTS_PARAMETER,
    SOURCE,
    WORDPRESS,
)
from lakehouse_assets.sources.wordpress_api.endpoints import resolve_endpoints
from lakehouse_assets.sources.wordpress_api.paging import WORDPRESS_PAGING
from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource


def endpoint_url(parameters: ParametersResource, dataset: str, log: dg.DagsterLogManager) -> str:
    """The dataset's endpoint, resolved by derived name from the parameter each run."""
    name = ENDPOINTS_PARAMETER
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


def build_raw_asset(
    schema: DatasetSchema, partitions: dg.DailyPartitionsDefinition, pipeline: PipelineSettings
) -> dg.AssetsDefinition:
    retry_policy = extract_retry_policy(pipeline)

    @dg.asset(
        key=WORDPRESS.key("raw", schema.name),
        description=f"Raw JSON snapshots of the {schema.name} endpoint, kept per ingestion day.",
        partitions_def=partitions,
        retry_policy=retry_policy,
        **WORDPRESS.asset_options("raw", kinds=("json", "raw")),
    )
    def raw_snapshot(
        context: dg.AssetExecutionContext,
        parameters: ParametersResource,
        lake: LakeResource,
        wordpress_api: WordPressApiResource,
    ) -> dg.MaterializeResult:
        what = f"{SOURCE}/{schema.name}"
        if not check_partition(partitions, context.partition_key, what):
            return reuse_kept_snapshot(context, lake, SOURCE, schema.name)
        url = endpoint_url(parameters, schema.name, context.log)
        wordpress_api.check_url(url, what)
        lake.bucket("raw")  # every bucket name validated before the first request
        fetched_at = datetime.now(UTC)
        with new_snapshot(context, lake, SOURCE, schema.name, retry_policy, fetched_at) as snapshot:
            download = wordpress_api.client().download(
                SOURCE, schema.name, url, snapshot.path, paging=WORDPRESS_PAGING
            )
            snapshot.page_index = download.page_index
        key = snapshot.key
        store = lake.object_store()
        return dg.MaterializeResult(
            metadata={
                **step_usage_metadata(),
                "dagster/row_count": download.rows,
                "dagster/uri": dg.MetadataValue.path(store.uri(lake.bucket("raw"), key)),
                SNAPSHOT_KEY_METADATA: key,
                "pages": download.pages,
                "http_attempts": download.attempts,
                "size_bytes": download.size_bytes,
                "sha256": download.sha256,
                "fetched_at": fetched_at.isoformat(),
                "reused_kept_snapshot": False,
            }
        )

    return raw_snapshot


def build_raw_assets(
    partitions: dg.DailyPartitionsDefinition, pipeline: PipelineSettings
) -> list[dg.AssetsDefinition]:
    return [build_raw_asset(schema, partitions, pipeline) for schema in DATASETS]
