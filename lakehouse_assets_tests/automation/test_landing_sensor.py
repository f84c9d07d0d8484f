"""Landing sensors must request every landed object version exactly once.

Why: ``dagster_aws``'s ``get_objects`` compares last-modified with ``>`` and skips objects landing
in the same second as its cursor; a cursor that advances past what was emitted loses objects; one
that forgets what it emitted runs them twice. These tests drive the real sensor, through
``build_sensor_context`` on a real Dagster instance, against a local directory tree and against S3
on a moto server over HTTP, with 10,000 objects landing between and during ticks: same-second
arrivals, re-uploads with new content, a tick that fails half-way through its listing, and bounded
work per tick. They count every (key, ETag) requested: 0 missed, 0 duplicated.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets.automation.landing_sensor import (
    TAG_ETAG,
    TAG_KEY,
    LandingCursor,
    build_landing_sensor,
    plan_tick,
)
from lakehouse_assets.lake.object_store import LocalObjectStore, ObjectInfo, ObjectStore
from lakehouse_assets.lake.s3_object_store import S3ObjectStore
from lakehouse_assets_tests.automation.stores import (
    BUCKETS,
    STORES,
    MotoS3,
    StoreLake,
    moto_s3,
    parameters,
)

PREFIX = "landing/test/files/"
RAW_BUCKET = BUCKETS["raw"]  # locally
MAX_RUNS = 1000
S3_MAX_RUNS = 2500  # each tick lists every object: fewer, bigger ticks keep moto quick
OVERLAP = 300.0

FILES = dg.DynamicPartitionsDefinition(name="landing_test_files")


@dg.asset(key=["bronze", "test", "files"], partitions_def=FILES)
def files_table() -> None:
    """A stand-in target: the sensor is what is under test."""


FILES_JOB = dg.define_asset_job("landing_test_files_job", selection=[files_table])


class Delegating(ObjectStore):
    """Passes every call to ``inner``; subclasses change what they need."""

    def __init__(self, inner: ObjectStore):
        self.inner = inner

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        return self.inner.list(bucket, prefix)

    def put_file(
        self, bucket: str, key: str, path: Path, *, create_only: bool = False
    ) -> ObjectInfo:
        return self.inner.put_file(bucket, key, path, create_only=create_only)

    def download(self, bucket: str, key: str, path: Path) -> None:
        self.inner.download(bucket, key, path)

    def delete(self, bucket: str, key: str) -> None:
        self.inner.delete(bucket, key)

    def uri(self, bucket: str, key: str) -> str:
        return self.inner.uri(bucket, key)


class Recording(Delegating):
    """Remembers the date of every object version the sensor listed (no second listing)."""

    def __init__(self, inner: ObjectStore):
        super().__init__(inner)
        self.dates: dict[tuple[str, str], float] = {}

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        for info in self.inner.list(bucket, prefix):
            self.dates[(info.key, info.etag)] = info.last_modified
            yield info


class ListingFailsOnce(Delegating):
    """Its first listing raises after yielding ``after`` objects (a connection lost mid-tick)."""

    def __init__(self, inner: ObjectStore, after: int):
        super().__init__(inner)
        self.after = after
        self.failed = False

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        for count, info in enumerate(self.inner.list(bucket, prefix)):
            if count == self.after and not self.failed:
                self.failed = True
                raise ConnectionError("listing interrupted (simulated)")
            yield info


@dataclass
class Ledger:
    """Every (key, ETag) that became visible, and every one the sensor requested."""

    landed: set[tuple[str, str]] = field(default_factory=set)
    requested: Counter[tuple[str, str]] = field(default_factory=Counter)
    ticks: list[int] = field(default_factory=list)
    #: Requested objects dated at or before the cursor's high-water mark when requested: the
    #: ones a strict ``last_modified > cursor`` comparison (get_objects) would have skipped.
    at_or_before_high_water: int = 0
    peak_cursor_chars: int = 0


class Harness:
    """Runs sensor ticks as the daemon would: cursor kept only when a tick succeeds."""

    def __init__(
        self,
        tmp_path: Path,
        store: ObjectStore,
        instance: dg.DagsterInstance,
        max_runs: int,
        buckets: dict[str, str] = BUCKETS,
    ):
        self.instance = instance
        self.params = parameters(tmp_path, buckets)
        self.recording = Recording(store)
        self.store_id = f"recording-{id(self)}"
        STORES[self.store_id] = self.recording
        self.max_runs = max_runs
        self.cursor: str | None = None
        self.ledger = Ledger()
        self.sensor = build_landing_sensor(
            name="landing_test_files_sensor",
            job=FILES_JOB,
            prefix=PREFIX,
            partitions_def=FILES,
            max_runs_per_tick=max_runs,
            overlap_seconds=OVERLAP,
        )

    def tick(self, store_id: str | None = None) -> dg.SensorResult:
        lake = StoreLake(parameters=self.params, store_id=store_id or self.store_id)
        high_water = LandingCursor.parse(self.cursor).high_water
        with dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources={"lake": lake}
        ) as context:
            result = self.sensor(context)
        assert isinstance(result, dg.SensorResult)
        requests = result.run_requests or []
        assert len(requests) <= self.max_runs
        for request in requests:
            key, etag = request.tags[TAG_KEY], request.tags[TAG_ETAG]
            assert request.run_key == f"{key}@{etag}"
            assert request.partition_key == key.removeprefix(PREFIX)
            self.ledger.requested[(key, etag)] += 1
        for update in result.dynamic_partitions_requests or []:
            assert isinstance(update, dg.AddDynamicPartitionsRequest)
            assert update.partitions_def_name == FILES.name
            self.instance.add_dynamic_partitions(FILES.name, list(update.partition_keys))
        if high_water is not None:
            self.ledger.at_or_before_high_water += sum(
                1
                for r in requests
                if self.recording.dates[(r.tags[TAG_KEY], r.tags[TAG_ETAG])] <= high_water
            )
        self.cursor = result.cursor  # the daemon stores it: the tick succeeded
        self.ledger.peak_cursor_chars = max(self.ledger.peak_cursor_chars, len(self.cursor or ""))
        self.ledger.ticks.append(len(requests))
        return result

    def drain(self, limit: int = 100) -> None:
        for _ in range(limit):
            if not self.tick().run_requests:
                return
        raise AssertionError("the sensor never caught up")

    def failing_tick(self, after: int) -> None:
        """A tick whose listing breaks half-way: it raises, and its cursor is never stored."""
        STORES["flaky"] = ListingFailsOnce(STORES[self.store_id], after)
        before = self.cursor
        with pytest.raises(ConnectionError, match="simulated"):
            self.tick("flaky")
        assert self.cursor == before

    def assert_exactly_once(self) -> None:
        duplicated = {k: n for k, n in self.ledger.requested.items() if n > 1}
        missed = self.ledger.landed - set(self.ledger.requested)
        unexpected = set(self.ledger.requested) - self.ledger.landed
        assert (len(missed), len(duplicated), len(unexpected)) == (0, 0, 0)
        assert sum(self.ledger.requested.values()) == len(self.ledger.landed)


# ---------------------------------------------------------------- local directory tree


class LocalLanding:
    """Writes files straight into the lake's raw directory, with chosen mtimes."""

    def __init__(self, root: Path):
        self.store = LocalObjectStore(root)
        self.base = root / RAW_BUCKET

    def put(self, key: str, body: bytes, mtime: float) -> tuple[str, str]:
        path = self.base / key
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.partial")  # hidden while written, as producers do
        temp.write_bytes(body)
        os.utime(temp, (mtime, mtime))
        os.replace(temp, path)
        info = LocalObjectStore._info(RAW_BUCKET, key, path)
        return key, info.etag


def name(index: int) -> str:
    return f"{PREFIX}batch{index // 2500}/file-{index:05d}.json"


def test_local_landing_10000_objects_exactly_once(tmp_path: Path) -> None:
    landing = LocalLanding(tmp_path / "lake")
    STORES["local"] = landing.store
    harness = Harness(tmp_path, landing.store, dg.DagsterInstance.ephemeral(), MAX_RUNS)
    ledger = harness.ledger
    second = float(int(time.time()) - 3600)  # every object of phases 1-2 shares this second

    def land(indexes: range, mtime: float, content: str = "v1") -> None:
        for i in indexes:
            ledger.landed.add(
                landing.put(name(i), f'{{"i": {i}, "v": "{content}"}}'.encode(), mtime)
            )

    land(range(0, 4000), second)
    (landing.base / PREFIX / "_SUCCESS").write_bytes(b"")  # markers and hidden files: ignored
    (landing.base / PREFIX / ".upload-in-progress.json").write_bytes(b"{")
    harness.tick()
    assert ledger.ticks == [MAX_RUNS]
    assert LandingCursor.parse(harness.cursor).high_water == second

    # The trap: 3,000 more objects in the very second the cursor already stands at.
    land(range(4000, 7000), second)
    land(range(7000, 9000), second + 1)
    harness.tick()
    harness.failing_tick(after=5000)
    harness.tick()

    # Re-uploads with new content (same second again) of 500 objects already requested.
    reuploaded = sorted(k for k, _ in ledger.requested)[:500]
    for key in reuploaded:
        ledger.landed.add(landing.put(key, b'{"v": "v2, longer content"}', second))
    land(range(9000, 10000), second + 2)
    harness.drain()
    harness.assert_exactly_once()
    assert len(ledger.landed) == 10_500
    assert max(ledger.ticks) == MAX_RUNS
    assert ledger.at_or_before_high_water >= 3000
    assert sorted(harness.instance.get_dynamic_partitions(FILES.name)) == sorted(
        name(i).removeprefix(PREFIX) for i in range(10_000)
    )

    # The cursor forgets objects once they leave the overlap window: it stays small.
    land(range(10_000, 10_010), second + 10 * OVERLAP)
    harness.drain()
    harness.assert_exactly_once()
    cursor = LandingCursor.parse(harness.cursor)
    assert (cursor.high_water, cursor.seen_count) == (second + 10 * OVERLAP, 10)
    assert len(harness.cursor or "") < 400

    # Tick time for 10,000 new objects: a fresh cursor, everything emitted in one tick.
    elapsed = time_one_full_tick(tmp_path, "local", expected=10_010)
    print(f"\n[figure] local: one sensor tick over 10,010 new objects: {elapsed:.2f} s")
    caught = ledger.at_or_before_high_water
    print(f"[figure] local: ticks {ledger.ticks}; requested at/before the cursor: {caught}")
    final = len(harness.cursor or "")
    print(f"[figure] local: cursor peak {ledger.peak_cursor_chars} chars, final {final} chars")


def time_one_full_tick(
    tmp_path: Path, store_id: str, expected: int, buckets: dict[str, str] = BUCKETS
) -> float:
    sensor = build_landing_sensor(
        name="landing_test_files_sensor",
        job=FILES_JOB,
        prefix=PREFIX,
        partitions_def=FILES,
        max_runs_per_tick=20_000,
    )
    lake = StoreLake(parameters=parameters(tmp_path, buckets), store_id=store_id)
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), cursor=None, resources={"lake": lake}
    ) as context:
        started = time.perf_counter()
        result = sensor(context)
        elapsed = time.perf_counter() - started
    assert isinstance(result, dg.SensorResult)
    assert len(result.run_requests or []) == expected
    return elapsed


def test_plan_tick_orders_by_date_and_never_advances_past_what_it_emitted() -> None:
    def info(key: str, etag: str, at: float) -> ObjectInfo:
        return ObjectInfo(RAW_BUCKET, key, 1, etag, at)

    objects = [info("c", "1", 20.0), info("a", "1", 10.0), info("b", "1", 10.0), info("d", "1", 30)]
    first = plan_tick(objects, LandingCursor(), max_runs=2)
    assert [o.key for o in first.emitted] == ["a", "b"]
    assert (first.waiting, first.cursor.high_water) == (2, 10.0)
    late = info("z", "1", 5.0)  # visible late, but inside the overlap window: still requested
    second = plan_tick([*objects, late], first.cursor, max_runs=10, overlap_seconds=300)
    assert [o.key for o in second.emitted] == ["z", "c", "d"]
    changed = info("a", "2", 10.0)  # same key and date, new content
    third = plan_tick([*objects, late, changed], second.cursor)
    assert [(o.key, o.etag) for o in third.emitted] == [("a", "2")]
    assert plan_tick([*objects, late, changed], third.cursor).emitted == []
    assert LandingCursor.parse(third.cursor.dump()) == third.cursor


# ---------------------------------------------------------------- S3 on a moto server


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoS3]:
    with moto_s3(monkeypatch) as server:
        yield server


@pytest.mark.integration
def test_s3_landing_10000_objects_exactly_once(tmp_path: Path, s3: MotoS3) -> None:
    client, raw_bucket = s3.client, s3.buckets["raw"]
    STORES["s3"] = S3ObjectStore(client)
    harness = Harness(
        tmp_path, STORES["s3"], dg.DagsterInstance.ephemeral(), S3_MAX_RUNS, s3.buckets
    )
    ledger = harness.ledger

    def put(key: str, body: bytes) -> tuple[str, str]:
        response = client.put_object(Bucket=raw_bucket, Key=key, Body=body)
        return key, str(response["ETag"]).strip('"')

    def land(keys: list[str], content: Callable[[str], bytes]) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            ledger.landed.update(pool.map(lambda k: put(k, content(k)), keys))

    started = time.perf_counter()
    land([name(i) for i in range(0, 4000)], lambda k: f'{{"k": "{k}"}}'.encode())
    harness.tick()
    land([name(i) for i in range(4000, 7000)], lambda k: f'{{"k": "{k}"}}'.encode())
    harness.tick()
    harness.failing_tick(after=5000)
    harness.tick()
    reuploaded = sorted(k for k, _ in ledger.requested)[:500]
    land(reuploaded, lambda k: f'{{"k": "{k}", "v": 2}}'.encode())
    land([name(i) for i in range(7000, 10_000)], lambda k: f'{{"k": "{k}"}}'.encode())
    harness.drain()
    harness.assert_exactly_once()
    assert len(ledger.landed) == 10_500
    assert max(ledger.ticks) == S3_MAX_RUNS
    assert sorted(harness.instance.get_dynamic_partitions(FILES.name)) == sorted(
        name(i).removeprefix(PREFIX) for i in range(10_000)
    )
    scenario = time.perf_counter() - started

    elapsed = time_one_full_tick(tmp_path, "s3", expected=10_000, buckets=s3.buckets)
    print(
        f"\n[figure] s3 (moto over HTTP): one sensor tick over 10,000 new objects: {elapsed:.2f} s"
    )
    print(f"[figure] s3: scenario {scenario:.1f} s; ticks {ledger.ticks}")
    caught = ledger.at_or_before_high_water
    print(f"[figure] s3: objects requested at/before the cursor's high-water mark: {caught}")
