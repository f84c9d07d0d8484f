"""Raw layer: each ingestion downloads every endpoint and keeps the JSON as a new snapshot."""

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from lakehouse_assets import settings
from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.lake.resource import LakeResource
from lakehouse_assets.lake.snapshots import snapshot_key
from lakehouse_assets.resources.parameters import ParametersResource
from lakehouse_assets.sources.wordpress_api.datasets import DATASETS, SOURCE
from lakehouse_assets.sources.wordpress_api.endpoints import resolve_endpoints
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


def build_raw_asset(schema: DatasetSchema) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", SOURCE, schema.name],
        group_name=SOURCE,
        description=f"Raw JSON snapshots of the {schema.name} endpoint, one per ingestion.",
        kinds={"json"},
        owners=OWNERS,
        pool=POOL,
        tags=asset_tags("raw"),
    )
    def raw_snapshot(
        context: AssetExecutionContext,
        parameters: ParametersResource,
        lake: LakeResource,
        wordpress_api: WordPressApiResource,
    ) -> dg.MaterializeResult:
        what = f"{SOURCE}/{schema.name}"
        url = endpoint_url(parameters, schema.name, context.log)
        wordpress_api.check_url(url, what)
        bucket = lake.bucket("raw")
        store = lake.object_store()
        fetched_at = datetime.now(UTC)
        key = snapshot_key(SOURCE, schema.name, fetched_at, context.run_id)
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
            }
        )

    return raw_snapshot


RAW_ASSETS = [build_raw_asset(schema) for schema in DATASETS]
