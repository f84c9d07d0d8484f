"""Landed files: where they land, how a run finds the version it was asked for, and quarantine.

A file dropped under ``landing/{source}/{dataset}/`` in the raw bucket is kept as landed (never
modified). A bad one is copied to ``quarantine/{source}/{dataset}/…`` under its own name with a
``.reason.json`` beside it, the bronze topic is alerted, and nothing is written: data already
there stays. Quarantining is a handled outcome, not a failed run.

A good file's columns are compared with those of the last file accepted (``drift``): a new
column is accepted and reported (``schema_change`` and ``source_schema`` metadata, a warning in
the log); a missing declared column or a type that no longer parses makes the file bad (its
parser says so). No ``schema_drift`` check here: a run that quarantines its file, or finds it
superseded, materializes nothing, and a check result without its table would say nothing.
"""

import json
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_assets import settings
from lakehouse_assets.automation.alerts import SUBJECT_LIMIT, Alert, publish_alerts
from lakehouse_assets.automation.jobs import AssetJob
from lakehouse_assets.automation.landing_sensor import TAG_ETAG, build_landing_sensor
from lakehouse_assets.errors import BadFileError
from lakehouse_assets.lake.layout import landing_prefix, quarantine_keys, quarantine_prefix
from lakehouse_assets.lake.object_store import ObjectInfo, ObjectStore
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.drift import (
    SCHEMA_CHANGE,
    SOURCE_SCHEMA,
    columns_of,
    compare,
    last_accepted,
    schema_json,
)
from lakehouse_assets.medallion.source import Source
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.resources.notifications import NotificationsResource


@dataclass(frozen=True)
class LandedDataset:
    """A dataset of a source that arrives as files under its landing prefix."""

    source: Source
    schema: DatasetSchema
    #: Packaged files the local deployment lands here when it runs on its samples.
    sample_directory: Path | None = None

    @property
    def name(self) -> str:
        """Unique name of the dataset's job, sensor and partitions definition."""
        return f"{self.source.name}__{self.schema.name}"

    @property
    def label(self) -> str:
        return f"{self.source.name}/{self.schema.name}"

    @property
    def landing_prefix(self) -> str:
        return landing_prefix(self.source.name, self.schema.name)

    @property
    def quarantine_prefix(self) -> str:
        return quarantine_prefix(self.source.name, self.schema.name)

    @property
    def partitions(self) -> dg.DynamicPartitionsDefinition:
        """One partition per landed file (its key under the landing prefix)."""
        return dg.DynamicPartitionsDefinition(name=f"landing__{self.name}")

    def relative_key(self, key: str) -> str:
        return key[len(self.landing_prefix) :] if key.startswith(self.landing_prefix) else key


def requested_version(
    context: dg.AssetExecutionContext, store: ObjectStore, bucket: str, key: str, label: str
) -> ObjectInfo | None:
    """The landed object this run was asked to process, or None (gone, or replaced since: the
    newer version has a run of its own)."""
    info = store.info(bucket, key)
    if info is None:
        context.log.warning(f"{label}: {key} is gone from the raw bucket; nothing to do")
        return None
    requested = context.run.tags.get(TAG_ETAG)
    if requested and requested != info.etag:
        context.log.info(
            f"{label}: {key} changed since this run was requested "
            f"(ETag {requested} → {info.etag}); the newer version's run processes it"
        )
        return None
    return info


def quarantine(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    notifications: NotificationsResource,
    landed: LandedDataset,
    info: ObjectInfo,
    local_file: Path,
    error: BadFileError,
) -> str:
    """Copy the bad file beside its reason, record an observation, alert the bronze topic;
    returns the quarantined copy's key."""
    store = lake.object_store()
    bucket = lake.bucket("raw")
    relative = landed.relative_key(info.key)
    reason = {
        "reason": error.reason,
        "asset": f"bronze/{landed.label}",
        "partition": relative,
        "source_bucket": bucket,
        "source_key": info.key,
        "source_etag": info.etag,
        "run_id": context.run.run_id,
        "quarantined_at": datetime.now(UTC).isoformat(),
    }
    copy_key, reason_key = quarantine_keys(landed.source.name, landed.schema.name, relative)
    store.put_file(bucket, copy_key, local_file)
    with tempfile.TemporaryDirectory(prefix="lakehouse-quarantine-") as directory:
        path = Path(directory) / "reason.json"
        path.write_text(json.dumps(reason, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        store.put_file(bucket, reason_key, path)
    subject = f"[lakehouse] bronze quarantined: {landed.label}/{relative}"
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
    context.log.warning(f"bronze {landed.label}: {info.key} quarantined: {error.reason}")
    context.log_event(
        dg.AssetObservation(
            asset_key=landed.source.key("bronze", landed.schema.name),
            partition=relative if context.has_partition_key else None,
            metadata={
                "quarantined": True,
                "reason": error.reason,
                "source_etag": info.etag,
                "quarantine_uri": dg.MetadataValue.path(store.uri(bucket, copy_key)),
            },
        )
    )
    publish_alerts(notifications, [Alert("bronze", subject, message)])
    return copy_key


@dataclass(frozen=True)
class ParsedFile:
    """A landed file as its bronze partition, and what parsing found (shown as metadata)."""

    table: Any  # pa.Table
    metadata: dict[str, Any]
    #: The columns the file arrived with (name → type), when its table does not keep them all
    #: (see :func:`arriving_columns`); None: the table's own columns (``_`` ones aside).
    source_columns: Mapping[str, str] | None = field(default=None)


#: How an undeclared column a typed parser drops shows in a file's arriving schema.
UNDECLARED = "undeclared"


def arriving_columns(schema: DatasetSchema, extra: tuple[str, ...]) -> dict[str, str]:
    """A typed file's arriving schema: every declared column with its declared type (the file
    parsed, so it has them all, typed), then the undeclared ones it brought."""
    return {**{c.name: c.type for c in schema.columns}, **dict.fromkeys(extra, UNDECLARED)}


#: The source's own rule: (file bytes, the landed object, processed at) → its bronze rows, or
#: BadFileError saying why the file is bad.
FileParser = Callable[[bytes, ObjectInfo, datetime], ParsedFile]


def build_landed_file_asset(
    landed: LandedDataset,
    parse: FileParser,
    *,
    description: str,
    kinds: tuple[str, ...] = ("parquet", "pyarrow", "bronze"),
) -> dg.AssetsDefinition:
    """Bronze with one partition per landed file, written through the lake IO manager."""

    key = landed.source.key("bronze", landed.schema.name)

    @dg.asset(
        key=key,
        partitions_def=landed.partitions,
        description=description,
        output_required=False,
        metadata={"preview_excluded": list(landed.schema.preview_excluded)},
        **landed.source.asset_options("bronze", kinds=kinds, ingestion="landing"),
    )
    def landed_table(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        notifications: NotificationsResource,
    ) -> Iterator[Any]:
        store = lake.object_store()
        bucket = lake.bucket("raw")
        object_key = f"{landed.landing_prefix}{context.partition_key}"
        info = requested_version(context, store, bucket, object_key, landed.label)
        if info is None:
            return
        processed_at = datetime.now(UTC)
        with store.local_copy(bucket, object_key) as path:
            try:
                parsed = parse(path.read_bytes(), info, processed_at)
            except BadFileError as exc:
                quarantine(context, lake, notifications, landed, info, path, exc)
                return
        context.log.info(f"bronze {landed.label}: {parsed.table.num_rows} rows from {object_key}")
        columns = dict(parsed.source_columns or columns_of(parsed.table.schema))
        baseline = last_accepted(
            context.instance, key, SOURCE_SCHEMA, exclude_run_id=context.run.run_id
        )
        change = compare(columns, baseline, landed.schema)
        if change.changed:
            context.log.warning(f"bronze {landed.label}: {object_key}: {change.describe()}")
        yield dg.Output(
            parsed.table,
            metadata={
                "source_file": dg.MetadataValue.path(store.uri(bucket, object_key)),
                "source_etag": info.etag,
                **parsed.metadata,
                "processed_at": processed_at.isoformat(),
                SOURCE_SCHEMA: schema_json(columns),
                SCHEMA_CHANGE: change.metadata(),
            },
        )

    return landed_table


def build_landed_file_job(
    landed: LandedDataset, selection: dg.AssetSelection | None = None
) -> AssetJob:
    return dg.define_asset_job(
        f"landing__{landed.name}_job",
        selection=selection
        or dg.AssetSelection.assets(landed.source.key("bronze", landed.schema.name)),
        description=f"Ingest one file landed in raw/{landed.landing_prefix}.",
        tags={"source": landed.source.name},
    )


def build_landed_file_sensor(
    landed: LandedDataset, job: AssetJob, **options: Any
) -> dg.SensorDefinition:
    return build_landing_sensor(
        name=f"landing__{landed.name}_sensor",
        job=job,
        prefix=landed.landing_prefix,
        layer="raw",
        partitions_def=landed.partitions,
        description=f"One run per file version landing in raw/{landed.landing_prefix}.",
        **options,
    )


def land_samples(lake: LakeResource, landed: LandedDataset) -> list[str]:
    """Land the dataset's packaged sample files that are not landed yet (oldest name first, so
    landing times follow the names); returns the keys landed now. Files already there are left
    as they are, so running on the samples twice processes nothing twice."""
    import time

    if landed.sample_directory is None:
        return []
    store = lake.object_store()
    bucket = lake.bucket("raw")
    placed = []
    for path in sorted(p for p in landed.sample_directory.rglob("*") if p.is_file()):
        key = f"{landed.landing_prefix}{path.relative_to(landed.sample_directory).as_posix()}"
        if store.info(bucket, key) is None:
            store.put_file(bucket, key, path, create_only=True)
            placed.append(key)
            time.sleep(0.01)  # distinct landing times, in name order
    return placed
