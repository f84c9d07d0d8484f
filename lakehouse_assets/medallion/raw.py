"""Raw history: each ingestion kept as its own immutable snapshot, and found again by the steps
that read it.

A run's bronze step reads the snapshot its own raw step wrote (recorded on raw's
materialization), never "the newest one listed": a concurrent run of the same partition may
have written a newer one in between.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from lakehouse_assets.errors import ConfigurationError, SourceError, step_retry_request
from lakehouse_assets.lake.layout import (
    RAW_KEY_PATTERN,
    page_index_key,
    raw_snapshot_key,
    raw_snapshot_prefix,
)
from lakehouse_assets.lake.object_store import ObjectInfo, ObjectStore
from lakehouse_assets.lake.staging import staging_prefix
from lakehouse_assets.medallion.partitions import current_partition
from lakehouse_assets.observe.usage import step_usage_metadata
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.settings import PipelineSettings

SNAPSHOT_KEY_METADATA = "snapshot_key"


def latest_snapshot(
    store: ObjectStore, bucket: str, source: str, dataset: str, partition: str | None = None
) -> ObjectInfo | None:
    """The newest snapshot of a dataset, or of one partition (keys sort by time)."""
    newest: ObjectInfo | None = None
    for info in store.list(bucket, raw_snapshot_prefix(source, dataset, partition)):
        if RAW_KEY_PATTERN.search(info.key) and (newest is None or info.key > newest.key):
            newest = info
    return newest


def check_partition(
    partitions: dg.TimeWindowPartitionsDefinition, partition: str, what: str
) -> bool:
    """Whether ``partition`` is the current one (fetch now) or a past one (use kept raw)."""
    current = current_partition(partitions)
    if partition > current:
        raise ConfigurationError(f"{what}: partition {partition} is in the future")
    return partition == current


def keep_snapshot(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    source: str,
    dataset: str,
    path: Path,
    fetched_at: datetime | None = None,
) -> tuple[str, ObjectInfo]:
    """Store the downloaded file as a new raw snapshot of this partition (create-only)."""
    store = lake.object_store()
    bucket = lake.bucket("raw")
    moment = fetched_at or datetime.now(UTC)
    key = raw_snapshot_key(source, dataset, context.partition_key, moment, context.run.run_id)
    info = store.put_file(bucket, key, path, create_only=True)
    return key, info


def reuse_kept_snapshot(
    context: dg.AssetExecutionContext, lake: LakeResource, source: str, dataset: str
) -> dg.MaterializeResult:
    """A past partition cannot be fetched again (sources serve current data): use its snapshot."""
    store = lake.object_store()
    bucket = lake.bucket("raw")
    partition = context.partition_key
    kept = latest_snapshot(store, bucket, source, dataset, partition)
    if kept is None:
        weekly = isinstance(context.assets_def.partitions_def, dg.WeeklyPartitionsDefinition)
        unit = "week" if weekly else "day"
        raise SourceError(
            source,
            dataset,
            f"no raw snapshot was kept for {partition}: the source serves only current data, so "
            f"a past {unit} can be rebuilt only from a snapshot ingested that {unit}",
        )
    context.log.info(f"raw {source}/{dataset}: {partition} rebuilt from kept snapshot {kept.key}")
    return dg.MaterializeResult(
        metadata={
            **step_usage_metadata(),
            "dagster/uri": dg.MetadataValue.path(store.uri(bucket, kept.key)),
            SNAPSHOT_KEY_METADATA: kept.key,
            "size_bytes": kept.size,
            "reused_kept_snapshot": True,
        }
    )


def snapshot_for_step(
    context: dg.AssetExecutionContext, lake: LakeResource, source: str, dataset: str
) -> ObjectInfo:
    """The raw snapshot this step reads: the one this run's raw step recorded, else the one the
    newest raw materialization of the partition recorded, else the newest one kept."""
    store = lake.object_store()
    bucket = lake.bucket("raw")
    partition = context.partition_key
    raw_key = dg.AssetKey(["raw", source, dataset])
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=raw_key, asset_partitions=[partition]), limit=20
    ).records
    recorded = [r for r in records if r.run_id == context.run.run_id] or records[:1]
    for record in recorded:
        materialization = record.asset_materialization
        value = materialization.metadata.get(SNAPSHOT_KEY_METADATA) if materialization else None
        if value is not None:
            info = store.info(bucket, str(value.value))
            if info is None:
                raise SourceError(source, dataset, f"raw snapshot {value.value} is gone")
            return info
    kept = latest_snapshot(store, bucket, source, dataset, partition)
    if kept is None:
        raise SourceError(source, dataset, f"no raw snapshot for {partition}: materialize raw")
    return kept


def extract_retry_policy(pipeline: PipelineSettings) -> dg.RetryPolicy:
    """Step retries for what outlasts an API client's own retries (a longer outage).

    Only transient errors are retried (LakehouseError.transient → Failure.allow_retries):
    validation and configuration errors fail at once.
    """
    return dg.RetryPolicy(
        max_retries=2,
        delay=pipeline.step_retry_delay_seconds,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


#: Longest server-asked wait (``Retry-After``) a step retry honours: with two retries this keeps
#: the waits within half the jobs' one-hour ``dagster/max_runtime``. A longer one fails the step.
STEP_RETRY_MAX_WAIT_SECONDS = 900.0


def retry_as_asked(error: SourceError, policy: dg.RetryPolicy) -> BaseException | None:
    """What to raise instead of ``error``: a step retry waiting as long as the server asked, or
    a clear failure when it asked for more than a step may wait; None: ``policy`` decides."""
    retry = step_retry_request(error, policy, max_wait_seconds=STEP_RETRY_MAX_WAIT_SECONDS)
    if retry is not None:
        return retry
    wait = error.retry_after_seconds
    if error.transient and wait is not None:
        return SourceError(
            error.source,
            error.dataset,
            f"{error.problem}; the server asks to wait {wait:.0f}s, longer than the "
            f"{STEP_RETRY_MAX_WAIT_SECONDS:.0f}s a step retry may wait: not retried",
        )
    return None


#: Each page's elements in a snapshot file: (start, end, SHA-256 of those bytes).
PageIndex = tuple[tuple[int, int, str], ...]


@dataclass
class NewSnapshot:
    """A file to fetch into; once kept, its key and object. A fetcher of pages sets
    ``page_index``: it is kept beside the snapshot, for the next ingestion to tell which pages
    it repeats (:mod:`lakehouse_assets.medallion.incremental`)."""

    path: Path
    key: str = ""
    info: ObjectInfo | None = None
    page_index: PageIndex = ()


def read_page_index(lake: LakeResource, snapshot_key: str) -> PageIndex | None:
    """The page index kept beside a raw snapshot, or None when none was kept."""
    store = lake.object_store()
    bucket = lake.bucket("raw")
    key = page_index_key(snapshot_key)
    if not store.exists(bucket, key):
        return None
    return tuple((int(a), int(b), str(d)) for a, b, d in store.read_json(bucket, key)["pages"])


@contextmanager
def new_snapshot(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    source: str,
    dataset: str,
    policy: dg.RetryPolicy,
    fetched_at: datetime | None = None,
) -> Iterator[NewSnapshot]:
    """Fetch into ``.path``; when the block ends without error the file is kept as the
    partition's new raw snapshot (create-only). The file lies in a staging folder named after
    this process, so one a kill leaves is reaped by the next run; a SourceError whose server
    asked for a wait becomes a step retry that waits (:func:`retry_as_asked`)."""
    with tempfile.TemporaryDirectory(prefix=staging_prefix()) as directory:
        snapshot = NewSnapshot(Path(directory) / "snapshot.json")
        try:
            yield snapshot
        except SourceError as error:
            instead = retry_as_asked(error, policy)
            if instead is None:
                raise
            raise instead from error
        snapshot.key, snapshot.info = keep_snapshot(
            context, lake, source, dataset, snapshot.path, fetched_at
        )
        if snapshot.page_index:
            lake.object_store().put_json(
                lake.bucket("raw"),
                page_index_key(snapshot.key),
                {"pages": [list(page) for page in snapshot.page_index]},
            )
