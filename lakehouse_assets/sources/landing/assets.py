"""Bronze tables fed by landed files: one dynamic partition per file, one run per file version.

A good file becomes its partition through the lake IO manager (one atomic put). A bad file is
copied to ``quarantine/{source}/{dataset}/{file}`` in the raw bucket with a ``.reason.json`` beside
it, an alert goes to the bronze topic, and no partition is written: data already there stays.
"""

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster import AssetExecutionContext

from lakehouse_assets import settings
from lakehouse_assets.automation.alerts import SUBJECT_LIMIT, Alert, publish_alerts
from lakehouse_assets.automation.landing_sensor import TAG_ETAG, build_landing_sensor
from lakehouse_assets.lake.object_store import ObjectInfo, ObjectStore
from lakehouse_assets.lake.resource import LakeResource
from lakehouse_assets.resources.notifications import NotificationsResource
from lakehouse_assets.sources.landing.datasets import LandingDataset
from lakehouse_assets.sources.landing.files import BadFileError, parse_landed_file

if TYPE_CHECKING:  # what define_asset_job returns (not exported by dagster)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

OWNERS = ["team:data-engineering"]
REASON_SUFFIX = ".reason.json"


def asset_tags(dataset: LandingDataset) -> dict[str, str]:
    return {"layer": "bronze", "source": dataset.source, "ingestion": "landing"}


def partitions_def(dataset: LandingDataset) -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=f"landing__{dataset.name}")


def quarantine(
    store: ObjectStore,
    bucket: str,
    dataset: LandingDataset,
    partition: str,
    info: ObjectInfo,
    local_file: Path,
    reason: dict[str, Any],
) -> tuple[str, str]:
    """Copy the bad file next to its reason; returns (copy key, reason key)."""
    copy_key = f"{dataset.quarantine_prefix}{partition}"
    reason_key = f"{copy_key}{REASON_SUFFIX}"
    store.put_file(bucket, copy_key, local_file)
    with tempfile.TemporaryDirectory(prefix="lakehouse-quarantine-") as directory:
        path = Path(directory) / "reason.json"
        path.write_text(json.dumps(reason, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        store.put_file(bucket, reason_key, path)
    return copy_key, reason_key


def build_landing_asset(dataset: LandingDataset) -> dg.AssetsDefinition:
    key = dg.AssetKey(["bronze", dataset.source, dataset.dataset])
    label = f"{dataset.source}/{dataset.dataset}"

    @dg.asset(
        key=key,
        partitions_def=partitions_def(dataset),
        group_name=dataset.group_name,
        description=f"{dataset.description} One partition per file landed in "
        f"raw/{dataset.landing_prefix}, typed and deduplicated.",
        kinds={"parquet", "pyarrow"},
        owners=OWNERS,
        tags=asset_tags(dataset),
        output_required=False,
    )
    def landed_table(
        context: AssetExecutionContext,
        lake: LakeResource,
        notifications: NotificationsResource,
    ) -> Iterator[Any]:
        partition = context.partition_key
        store = lake.object_store()
        bucket = lake.bucket("raw")
        object_key = f"{dataset.landing_prefix}{partition}"
        info = store.info(bucket, object_key)
        if info is None:
            context.log.warning(f"{label}: {object_key} is gone from the raw bucket; nothing to do")
            return
        requested = context.run.tags.get(TAG_ETAG)
        if requested and requested != info.etag:
            # A newer upload replaced the file; the sensor requested a run for that version.
            context.log.info(
                f"{label}: {object_key} changed since this run was requested "
                f"(ETag {requested} → {info.etag}); the newer version's run processes it"
            )
            return
        processed_at = datetime.now(UTC)
        with store.local_copy(bucket, object_key) as path:
            try:
                parsed = parse_landed_file(path.read_bytes(), object_key, dataset, processed_at)
            except BadFileError as exc:
                _reject(context, store, bucket, dataset, partition, info, path, exc, notifications)
                return
        context.log.info(
            f"bronze {label}: {parsed.table.num_rows} rows from {object_key} ({parsed.file_format})"
        )
        yield dg.Output(
            parsed.table,
            metadata={
                "source_file": dg.MetadataValue.path(store.uri(bucket, object_key)),
                "source_etag": info.etag,
                "file_format": parsed.file_format,
                "rows_in": parsed.rows_in,
                "duplicate_rows_removed": parsed.duplicate_rows_removed,
                "superseded_rows_removed": parsed.superseded_rows_removed,
                "ignored_columns": list(parsed.ignored_columns),
                "processed_at": processed_at.isoformat(),
            },
        )

    return landed_table


def _reject(
    context: AssetExecutionContext,
    store: ObjectStore,
    bucket: str,
    dataset: LandingDataset,
    partition: str,
    info: ObjectInfo,
    local_file: Path,
    error: BadFileError,
    notifications: NotificationsResource,
) -> None:
    """Quarantine the file with its reason, alert the bronze topic, record an observation."""
    label = f"{dataset.source}/{dataset.dataset}"
    reason = {
        "reason": error.reason,
        "asset": f"bronze/{label}",
        "partition": partition,
        "source_bucket": bucket,
        "source_key": info.key,
        "source_etag": info.etag,
        "run_id": context.run.run_id,
        "quarantined_at": datetime.now(UTC).isoformat(),
    }
    copy_key, reason_key = quarantine(store, bucket, dataset, partition, info, local_file, reason)
    subject = f"[lakehouse] bronze quarantined: {label}/{partition}"
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 1] + "…"
    message = {
        "alert": "quarantine",
        "layer": "bronze",
        **reason,
        "quarantine_key": copy_key,
        "reason_key": reason_key,
        "run_url": f"{settings.ui_base_url()}/runs/{context.run.run_id}",
    }
    context.log.warning(f"bronze {label}: {info.key} quarantined: {error.reason}")
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key,
            partition=partition,
            metadata={
                "quarantined": True,
                "reason": error.reason,
                "source_etag": info.etag,
                "quarantine_uri": dg.MetadataValue.path(store.uri(bucket, copy_key)),
            },
        )
    )
    publish_alerts(notifications, [Alert("bronze", subject, message)])


def build_landing_job(dataset: LandingDataset) -> "UnresolvedAssetJobDefinition":
    return dg.define_asset_job(
        f"landing__{dataset.name}_job",
        selection=dg.AssetSelection.assets(
            dg.AssetKey(["bronze", dataset.source, dataset.dataset])
        ),
        description=f"Ingest one file landed in raw/{dataset.landing_prefix}.",
    )


def build_landing_dataset_sensor(
    dataset: LandingDataset, job: "UnresolvedAssetJobDefinition", **options: Any
) -> dg.SensorDefinition:
    return build_landing_sensor(
        name=f"landing__{dataset.name}_sensor",
        job=job,
        prefix=dataset.landing_prefix,
        layer="raw",
        partitions_def=partitions_def(dataset),
        description=f"One run per file version landing in raw/{dataset.landing_prefix}.",
        **options,
    )
