"""Sensors that batch landed files: one run per tick's worth of object versions, each version
processed exactly once — by the daemon's ticks and by ``lakehouse run`` alike.

``landing_sensor`` requests one run per object version (run key ``key@etag``): thousands of
files landing between two ticks would mean thousands of runs. A run key cannot name a batch
either: a batch derived from what one evaluation finds differs between the daemon's cursor and
the fresh cursor ``lakehouse run`` evaluates with, so both would process the same files. Here a
batch is an object of its own:

- a **manifest**, written create-only in the raw bucket at ``_batches/{source}/{id}.json``,
  lists the object versions (key, ETag, last-modified, size) of one batch. It is never
  changed. Its id is ``{newest last-modified, UTC}-{digest of its versions}``, so it sorts by
  time and two evaluations that find the same versions write the same manifest;
- the run key (and dynamic partition) of the batch's run is the manifest id;
- an evaluation excludes every object version listed in a kept manifest. With the daemon's
  cursor (``LandingCursor``: high-water mark plus the digests inside the overlap window) only
  manifests whose id is inside the window can list a candidate, and only those the cursor has
  not requested yet are read; a fresh cursor reads them all;
- a manifest found that way whose run never started (a tick that failed after writing it, or a
  ``lakehouse run`` that stopped) is requested again; one that has a run is not (the run keys of
  this sensor's runs are checked, and the daemon would drop a duplicate anyway).

Each tick writes at most ``max_batches_per_tick`` manifests of at most ``max_objects_per_batch``
versions, oldest first; the rest wait. The cursor moves only with what was requested and is
stored by Dagster only when the tick succeeds.

Two evaluations racing (a daemon tick during ``lakehouse run``) can list one version in two
manifests; the batch assets must therefore be idempotent (the transactions merge is: the
latest landing wins, and the same landing twice changes nothing).
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from lakehouse_assets.automation.jobs import AssetJob
from lakehouse_assets.automation.landing_sensor import (
    DEFAULT_OVERLAP_SECONDS,
    LandingCursor,
    LandingCursorError,
    is_landable,
    object_digest,
)
from lakehouse_assets.lake.layout import STAMP_FORMAT, batch_manifest_key, batch_manifest_prefix
from lakehouse_assets.lake.object_store import ObjectExistsError, ObjectInfo, ObjectStore
from lakehouse_assets.resources.lake import LakeResource

MANIFEST_VERSION = 1
BATCH_CURSOR_VERSION = 1
DEFAULT_MAX_OBJECTS_PER_BATCH = 10_000
DEFAULT_MAX_BATCHES_PER_TICK = 4
#: A manifest id's stamp is floored to the microsecond: read a little before the horizon.
STAMP_TOLERANCE_SECONDS = 1.0

TAG_BATCH = "lakehouse/batch"
TAG_MANIFEST = "lakehouse/batch_manifest"
TAG_BUCKET = "lakehouse/landing_bucket"
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"


@dataclass(frozen=True)
class BatchManifest:
    """One batch: the object versions it processes, oldest first."""

    source: str
    batch_id: str
    objects: tuple[ObjectInfo, ...]
    created_at: str = ""

    @classmethod
    def of(cls, source: str, objects: Sequence[ObjectInfo]) -> BatchManifest:
        ordered = tuple(sorted(objects, key=lambda o: (o.last_modified, o.key, o.etag)))
        if not ordered:
            raise ValueError("a batch holds at least one object version")
        return cls(source, batch_id(ordered), ordered, datetime.now(UTC).isoformat())

    @property
    def key(self) -> str:
        return batch_manifest_key(self.source, self.batch_id)

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": MANIFEST_VERSION,
                "source": self.source,
                "batch": self.batch_id,
                "created_at": self.created_at,
                "objects": [
                    {
                        "bucket": o.bucket,
                        "key": o.key,
                        "etag": o.etag,
                        "last_modified": o.last_modified,
                        "size": o.size,
                    }
                    for o in self.objects
                ],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> BatchManifest:
        value = json.loads(text)
        if value.get("v") != MANIFEST_VERSION:
            raise ValueError(f"batch manifest version {value.get('v')!r} is not supported")
        objects = tuple(
            ObjectInfo(o["bucket"], o["key"], int(o["size"]), o["etag"], float(o["last_modified"]))
            for o in value["objects"]
        )
        return cls(value["source"], value["batch"], objects, value.get("created_at", ""))

    def digests(self) -> set[str]:
        return {object_digest(o) for o in self.objects}


def batch_id(objects: Sequence[ObjectInfo]) -> str:
    """``{newest last-modified as UTC stamp}-{digest of the sorted key + ETag pairs}``."""
    newest = max(o.last_modified for o in objects)
    stamp = datetime.fromtimestamp(newest, UTC).strftime(STAMP_FORMAT)
    digest = hashlib.blake2b(digest_size=9)
    for o in sorted(objects, key=lambda o: (o.key, o.etag)):
        digest.update(f"{o.key}\0{o.etag}\n".encode())
    return f"{stamp}-{base64.b32encode(digest.digest()).decode('ascii').lower().rstrip('=')}"


def batch_stamp(batch: str) -> float:
    """POSIX seconds of a batch id's stamp (its newest object's last-modified, floored)."""
    stamp = batch.split("-", 1)[0]
    return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC).timestamp()


def write_manifest(store: ObjectStore, bucket: str, manifest: BatchManifest) -> bool:
    """Write the manifest create-only; False when the same batch was written already (same id:
    same object versions)."""
    with tempfile.TemporaryDirectory(prefix="lakehouse-batch-") as directory:
        path = Path(directory) / "manifest.json"
        path.write_text(manifest.to_json() + "\n", encoding="utf-8")
        try:
            store.put_file(bucket, manifest.key, path, create_only=True)
        except ObjectExistsError:
            return False
    return True


def read_manifest(store: ObjectStore, bucket: str, source: str, batch: str) -> BatchManifest:
    with store.local_copy(bucket, batch_manifest_key(source, batch)) as path:
        return BatchManifest.from_json(path.read_text(encoding="utf-8"))


def listed_batches(store: ObjectStore, bucket: str, source: str) -> list[str]:
    """Ids of every kept manifest of ``source``, oldest first."""
    prefix = batch_manifest_prefix(source)
    return sorted(
        info.key[len(prefix) : -len(".json")]
        for info in store.list(bucket, prefix)
        if info.key.endswith(".json") and "/" not in info.key[len(prefix) :]
    )


@dataclass
class BatchCursor:
    """The landing cursor over the object versions requested, plus the batches requested whose
    stamp is inside the overlap window (older ones can list no candidate)."""

    landing: LandingCursor = field(default_factory=LandingCursor)
    requested: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, raw: str | None) -> BatchCursor:
        if not raw:
            return cls()
        try:
            value = json.loads(raw)
            if value.get("v") != BATCH_CURSOR_VERSION:
                raise ValueError(f"version {value.get('v')!r}")
            return cls(LandingCursor.parse(value["landing"]), set(value["requested"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LandingCursorError(
                f"batch sensor cursor is not readable ({exc}); reset the cursor to re-scan"
            ) from None

    def dump(self) -> str:
        return json.dumps(
            {
                "v": BATCH_CURSOR_VERSION,
                "landing": self.landing.dump(),
                "requested": sorted(self.requested),
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class BatchTick:
    """What one evaluation requests: manifests written now, kept ones never run, the cursor."""

    written: list[BatchManifest]
    rerequested: list[str]
    waiting: int
    cursor: BatchCursor
    manifests_read: int = 0


def plan_batches(
    *,
    source: str,
    store: ObjectStore,
    bucket: str,
    objects: Iterable[ObjectInfo],
    cursor: BatchCursor,
    has_run: Callable[[str], bool],
    max_objects_per_batch: int = DEFAULT_MAX_OBJECTS_PER_BATCH,
    max_batches_per_tick: int = DEFAULT_MAX_BATCHES_PER_TICK,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
) -> BatchTick:
    """Write the manifests of what is new and say which batches to request (see the module)."""
    if max_objects_per_batch < 1 or max_batches_per_tick < 1:
        raise ValueError("max_objects_per_batch and max_batches_per_tick must be at least 1")
    horizon = cursor.landing.horizon(overlap_seconds)
    candidates = [
        o for o in objects if o.last_modified >= horizon and not cursor.landing.has_seen(o)
    ]
    covered: set[str] = set()
    unrequested: list[BatchManifest] = []
    if candidates or cursor.landing.high_water is None:
        for batch in listed_batches(store, bucket, source):
            if batch in cursor.requested:
                continue
            if batch_stamp(batch) < horizon - STAMP_TOLERANCE_SECONDS:
                continue
            manifest = read_manifest(store, bucket, source, batch)
            covered |= manifest.digests()
            unrequested.append(manifest)
    rerequested = [m for m in unrequested if not has_run(m.batch_id)]
    fresh = sorted(
        (o for o in candidates if object_digest(o) not in covered),
        key=lambda o: (o.last_modified, o.key, o.etag),
    )
    limit = max_objects_per_batch * max_batches_per_tick
    chosen, waiting = fresh[:limit], max(0, len(fresh) - limit)
    written = []
    for start in range(0, len(chosen), max_objects_per_batch):
        manifest = BatchManifest.of(source, chosen[start : start + max_objects_per_batch])
        write_manifest(store, bucket, manifest)
        written.append(manifest)
    emitted = [o for m in [*unrequested, *written] for o in m.objects]
    landing = cursor.landing.advanced(emitted, overlap_seconds)
    new_horizon = landing.horizon(overlap_seconds) - STAMP_TOLERANCE_SECONDS
    requested = {
        b
        for b in cursor.requested | {m.batch_id for m in [*unrequested, *written]}
        if batch_stamp(b) >= new_horizon
    }
    return BatchTick(
        written,
        [m.batch_id for m in rerequested],
        waiting,
        BatchCursor(landing, requested),
        manifests_read=len(unrequested),
    )


def build_batch_sensor(
    *,
    name: str,
    job: AssetJob | dg.JobDefinition,
    source: str,
    prefixes: Sequence[str],
    partitions_def: dg.DynamicPartitionsDefinition,
    layer: str = "raw",
    max_objects_per_batch: int = DEFAULT_MAX_OBJECTS_PER_BATCH,
    max_batches_per_tick: int = DEFAULT_MAX_BATCHES_PER_TICK,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    minimum_interval_seconds: int = 30,
    description: str | None = None,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """A sensor requesting one run of ``job`` per batch of object versions landed under any of
    ``prefixes`` (one listing of their common parent); each batch is a dynamic partition."""
    if not prefixes or any(not p.endswith("/") for p in prefixes):
        raise ValueError("landing prefixes must end with '/'")
    parent = _common_parent(prefixes)

    def accept(info: ObjectInfo) -> bool:
        return any(info.key.startswith(p) and is_landable(p, info.key) for p in prefixes)

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        description=description
        or f"One run per batch of object versions landing under {', '.join(prefixes)}.",
        default_status=default_status,
    )
    def batch_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
        store = lake.object_store()
        bucket = lake.bucket(layer)
        sensor_name = context.sensor_name or name

        def has_run(batch: str) -> bool:
            runs = context.instance.get_runs(
                filters=dg.RunsFilter(tags={RUN_KEY_TAG: batch}), limit=5
            )
            return any(run.tags.get(SENSOR_NAME_TAG) == sensor_name for run in runs)

        tick = plan_batches(
            source=source,
            store=store,
            bucket=bucket,
            objects=(o for o in store.list(bucket, parent) if accept(o)),
            cursor=BatchCursor.parse(context.cursor),
            has_run=has_run,
            max_objects_per_batch=max_objects_per_batch,
            max_batches_per_tick=max_batches_per_tick,
            overlap_seconds=overlap_seconds,
        )
        batches = [*tick.rerequested, *(m.batch_id for m in tick.written)]
        context.log.info(
            f"{source}: {len(tick.written)} new batch(es) of "
            f"{sum(len(m.objects) for m in tick.written)} object version(s), "
            f"{len(tick.rerequested)} kept batch(es) requested again, {tick.waiting} waiting; "
            f"{tick.manifests_read} manifest(s) read"
        )
        if not batches:
            return dg.SensorResult(
                skip_reason=f"nothing new for {source}", cursor=tick.cursor.dump()
            )
        existing = set(context.instance.get_dynamic_partitions(str(partitions_def.name)))
        new_keys = [b for b in batches if b not in existing]
        requests = [
            dg.RunRequest(
                run_key=batch,
                partition_key=batch,
                tags={
                    TAG_BATCH: batch,
                    TAG_MANIFEST: batch_manifest_key(source, batch),
                    TAG_BUCKET: bucket,
                },
            )
            for batch in batches
        ]
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=(
                [partitions_def.build_add_request(new_keys)] if new_keys else []
            ),
            cursor=tick.cursor.dump(),
        )

    return batch_sensor


def _common_parent(prefixes: Sequence[str]) -> str:
    parts = [p.rstrip("/").split("/") for p in prefixes]
    common: list[str] = []
    for segment in zip(*parts, strict=False):
        if len(set(segment)) != 1:
            break
        common.append(segment[0])
    return "/".join(common) + "/" if common else ""
