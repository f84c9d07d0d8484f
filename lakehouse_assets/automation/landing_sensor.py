"""Sensors on landing prefixes: every landed object (key + ETag) requested exactly once.

``dagster_aws.s3.sensor.get_objects`` keeps only a last-modified cursor compared with ``>``, so an
object landing in the same second as the cursor is skipped forever. This cursor
keeps instead:

- ``high_water``: the greatest ``last_modified`` among objects already *emitted* (never of objects
  merely listed), and
- ``seen``: a short digest of ``key + ETag`` for each emitted object whose ``last_modified`` lies
  inside the overlap window ``[high_water - overlap, high_water]``.

Each tick lists the prefix (the store paginates), takes the objects modified at or after
``high_water - overlap`` whose digest is not in ``seen``, and emits the oldest ``max_runs_per_tick``
of them in ``(last_modified, key, etag)`` order; the rest wait for the next tick. The cursor only
moves with what was emitted, and is returned with the run requests in one ``SensorResult``: Dagster
stores it only when the tick succeeds, so a tick that raises loses nothing.

Guarantees: no (key, ETag) is emitted twice by a chain of successful ticks, and none is missed
unless it becomes visible more than ``overlap`` seconds after its ``last_modified`` (S3: a
multipart upload is dated when it started; local files: a file moved in keeps its old mtime).
The run key ``{key}@{etag}`` lets Dagster drop a duplicate even then. The cursor holds 16
characters per object landed within the overlap window, so it stays small unless thousands of
objects land inside one window.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import dagster as dg

from lakehouse_assets.automation.jobs import AssetJob
from lakehouse_assets.lake.object_store import ObjectInfo, validate_key
from lakehouse_assets.resources.lake import LakeResource

CURSOR_VERSION = 1
DIGEST_BYTES = 9  # 12 base64 characters; a collision among 10^6 objects: ~1e-10
DIGEST_CHARS = 12
DEFAULT_OVERLAP_SECONDS = 300.0
DEFAULT_MAX_RUNS_PER_TICK = 200

TAG_BUCKET = "lakehouse/landing_bucket"
TAG_KEY = "lakehouse/landing_key"
TAG_ETAG = "lakehouse/landing_etag"

#: Substrings Dagster refuses in a partition key.
_INVALID_PARTITION_TEXT = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


def object_digest(info: ObjectInfo) -> str:
    """A fixed-size identity of one version of one object: ``key`` + ``ETag``."""
    raw = hashlib.blake2b(f"{info.key}\0{info.etag}".encode(), digest_size=DIGEST_BYTES).digest()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def run_key(info: ObjectInfo) -> str:
    """One run per version of an object: a re-upload with new content has a new ETag."""
    return f"{info.key}@{info.etag}"


class LandingCursorError(ValueError):
    """The stored cursor cannot be read; reset the sensor's cursor to start over."""


@dataclass
class LandingCursor:
    """High-water mark of emitted ``last_modified`` plus the digests seen inside the overlap."""

    high_water: float | None = None
    seen: dict[float, set[str]] = field(default_factory=dict)
    _all: set[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, raw: str | None) -> LandingCursor:
        if not raw:
            return cls()
        try:
            value = json.loads(raw)
            if value.get("v") != CURSOR_VERSION:
                raise ValueError(f"version {value.get('v')!r}")
            seen: dict[float, set[str]] = {}
            for stamp, digests in value["seen"].items():
                if len(digests) % DIGEST_CHARS:
                    raise ValueError("digest list has a partial entry")
                seen[float(stamp)] = {
                    digests[i : i + DIGEST_CHARS] for i in range(0, len(digests), DIGEST_CHARS)
                }
            high_water = value["high_water"]
            return cls(None if high_water is None else float(high_water), seen)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LandingCursorError(
                f"landing sensor cursor is not readable ({exc}); reset the cursor to re-scan"
            ) from None

    def dump(self) -> str:
        seen = {
            repr(stamp): "".join(sorted(digests))
            for stamp, digests in sorted(self.seen.items())
            if digests
        }
        return json.dumps(
            {"v": CURSOR_VERSION, "high_water": self.high_water, "seen": seen},
            separators=(",", ":"),
        )

    def horizon(self, overlap_seconds: float) -> float:
        """Objects modified before this are settled: never listed as candidates again."""
        return -math.inf if self.high_water is None else self.high_water - overlap_seconds

    def has_seen(self, info: ObjectInfo) -> bool:
        """Whether this key + ETag was emitted (whatever its date: same content, same ETag)."""
        if self._all is None:
            self._all = set().union(*self.seen.values())
        return object_digest(info) in self._all

    def advanced(self, emitted: Iterable[ObjectInfo], overlap_seconds: float) -> LandingCursor:
        """A new cursor recording ``emitted``; entries that left the window are dropped."""
        seen = {stamp: set(digests) for stamp, digests in self.seen.items()}
        high_water = self.high_water
        for info in emitted:
            seen.setdefault(info.last_modified, set()).add(object_digest(info))
            if high_water is None or info.last_modified > high_water:
                high_water = info.last_modified
        cursor = LandingCursor(high_water, {})
        horizon = cursor.horizon(overlap_seconds)
        cursor.seen = {stamp: d for stamp, d in seen.items() if stamp >= horizon}
        return cursor

    @property
    def seen_count(self) -> int:
        return sum(len(d) for d in self.seen.values())


@dataclass(frozen=True)
class LandingBatch:
    """What one tick emits, how many candidates wait for later ticks, and the next cursor."""

    emitted: list[ObjectInfo]
    waiting: int
    cursor: LandingCursor


def plan_tick(
    objects: Iterable[ObjectInfo],
    cursor: LandingCursor,
    *,
    max_runs: int = DEFAULT_MAX_RUNS_PER_TICK,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    accept: Callable[[ObjectInfo], bool] = lambda _: True,
) -> LandingBatch:
    """Pick the oldest ``max_runs`` objects not yet emitted; pure, so every rule is testable."""
    if max_runs < 1:
        raise ValueError("max_runs must be at least 1")
    horizon = cursor.horizon(overlap_seconds)
    candidates: list[tuple[float, str, str, ObjectInfo]] = []
    for info in objects:
        if info.last_modified < horizon or cursor.has_seen(info) or not accept(info):
            continue
        candidates.append((info.last_modified, info.key, info.etag, info))
    chosen = [item[-1] for item in heapq.nsmallest(max_runs, candidates)]
    return LandingBatch(
        emitted=chosen,
        waiting=len(candidates) - len(chosen),
        cursor=cursor.advanced(chosen, overlap_seconds),
    )


def relative_key(prefix: str, key: str) -> str:
    return key[len(prefix) :] if key.startswith(prefix) else key


def is_landable(prefix: str, key: str) -> bool:
    """A complete data file: not a folder marker, not hidden or temporary (``.x``, ``_x``)."""
    rest = relative_key(prefix, key)
    if not rest or rest.endswith("/") or any(t in rest for t in _INVALID_PARTITION_TEXT):
        return False
    try:
        validate_key(rest)
    except ValueError:
        return False
    return not any(part.startswith((".", "_")) for part in PurePosixPath(rest).parts)


def build_landing_sensor(
    *,
    name: str,
    job: AssetJob | dg.JobDefinition,
    prefix: str,
    layer: str = "raw",
    partitions_def: dg.DynamicPartitionsDefinition | None = None,
    partition_key: Callable[[ObjectInfo], str] | None = None,
    extra_tags: Callable[[ObjectInfo], Mapping[str, str]] | None = None,
    max_runs_per_tick: int = DEFAULT_MAX_RUNS_PER_TICK,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    minimum_interval_seconds: int = 30,
    description: str | None = None,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """A sensor requesting one run of ``job`` per landed object version under ``prefix``.

    The prefix is read in the ``layer`` bucket of the ``lake`` resource (a directory locally, an
    S3 bucket on AWS). With ``partitions_def`` each object becomes a dynamic partition, keyed by
    ``partition_key`` (default: the key relative to ``prefix``), added in the same tick.
    """
    if not prefix.endswith("/"):
        raise ValueError(f"landing prefix {prefix!r} must end with '/'")
    key_of = partition_key or (lambda info: relative_key(prefix, info.key))

    def accept(info: ObjectInfo) -> bool:
        return is_landable(prefix, info.key)

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        description=description or f"One run per object version landing under {prefix}.",
        default_status=default_status,
    )
    def landing_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
        store = lake.object_store()
        bucket = lake.bucket(layer)
        cursor = LandingCursor.parse(context.cursor)
        batch = plan_tick(
            store.list(bucket, prefix),
            cursor,
            max_runs=max_runs_per_tick,
            overlap_seconds=overlap_seconds,
            accept=accept,
        )
        requests = []
        partition_keys: dict[str, None] = {}
        for info in batch.emitted:
            tags = {TAG_BUCKET: bucket, TAG_KEY: info.key, TAG_ETAG: info.etag}
            if extra_tags is not None:
                tags.update(extra_tags(info))
            key = key_of(info) if partitions_def is not None else None
            if key is not None:
                partition_keys.setdefault(key, None)
            requests.append(dg.RunRequest(run_key=run_key(info), partition_key=key, tags=tags))
        dynamic_requests = []
        if partitions_def is not None and partition_keys:
            existing = set(context.instance.get_dynamic_partitions(str(partitions_def.name)))
            new_keys = [k for k in partition_keys if k not in existing]
            if new_keys:
                dynamic_requests.append(partitions_def.build_add_request(new_keys))
        context.log.info(
            f"{prefix}: {len(requests)} new object version(s), {batch.waiting} waiting; "
            f"cursor keeps {batch.cursor.seen_count} digest(s)"
        )
        if not requests:
            return dg.SensorResult(
                skip_reason=f"nothing new under {prefix}", cursor=batch.cursor.dump()
            )
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=dynamic_requests,
            cursor=batch.cursor.dump(),
        )

    return landing_sensor
