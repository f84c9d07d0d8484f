"""Snapshot history that grows with change: identical versions become references, bytes move
before they are replaced or pruned, and every kept partition stays loadable — on the local store
and on S3 (moto over HTTP), with the exact keys and bytes each leaves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.object_store import LocalObjectStore, ObjectStore, file_sha256
from lakehouse_assets.lake.s3_object_store import MIB, S3ObjectStore
from lakehouse_assets.lake.snapshots import (
    BrokenSnapshotError,
    SnapshotHistory,
    kept_snapshots,
    resolve_snapshot,
)
from lakehouse_assets_tests.aws.conftest import CREDENTIALS, moto_endpoint  # noqa: F401

REGION = "us-west-2"
ADDRESS = TableAddress("silver", "demo", "posts")
HISTORY = "demo/posts/_snapshots/"


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ObjectStore, str]]:
    """(store, bucket): a directory tree, or a fresh bucket on the moto server."""
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "lake"), "silver"
        return
    request.applymarker(pytest.mark.integration)
    client = s3_client(request.getfixturevalue("moto_endpoint"))
    bucket = f"snapshots-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    yield S3ObjectStore(client, copy_threshold=6 * MIB, part_size=5 * MIB), bucket


def parquet(tmp_path: Path, name: str, values: list[int]) -> Path:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table({"n": values}), path)
    return path


def keys(store: ObjectStore, bucket: str) -> list[str]:
    return [o.key[len(HISTORY) :] for o in store.list(bucket, HISTORY)]


def values(store: ObjectStore, bucket: str, key: str) -> list[int]:
    with store.local_copy(bucket, key) as path:
        return pq.read_table(path).column("n").to_pylist()


def test_an_unchanged_day_is_a_reference_to_the_day_holding_its_bytes(
    lake: tuple[ObjectStore, str], tmp_path: Path
) -> None:
    store, bucket = lake
    same = parquet(tmp_path, "same", [1, 2, 3])
    first = SnapshotHistory(store, bucket, ADDRESS).store_file("2024-01-01", same)
    assert (first.key, first.same_as, first.newest) == (
        f"{HISTORY}2024-01-01/data.parquet",
        None,
        True,
    )
    second = SnapshotHistory(store, bucket, ADDRESS).store_file("2024-01-02", same)
    assert (second.key, second.same_as, second.newest) == (first.key, "2024-01-01", True)
    changed = SnapshotHistory(store, bucket, ADDRESS).store_file(
        "2024-01-03", parquet(tmp_path, "changed", [1, 2, 3, 4])
    )
    assert changed.same_as is None
    assert keys(store, bucket) == [
        "2024-01-01/data.parquet",
        "2024-01-02/_same_as_2024-01-01.json",
        "2024-01-03/data.parquet",
    ]
    reference = store.read_json(bucket, f"{HISTORY}2024-01-02/_same_as_2024-01-01.json")
    assert reference == {
        "partition": "2024-01-02",
        "same_as": "2024-01-01",
        "key": f"{HISTORY}2024-01-01/data.parquet",
        "size": same.stat().st_size,
        "sha256": file_sha256(same),
    }
    assert resolve_snapshot(store, bucket, ADDRESS, "2024-01-02") == first.key
    assert resolve_snapshot(store, bucket, ADDRESS, "2023-12-31") is None
    assert kept_snapshots(store, bucket, ADDRESS) == {
        "2024-01-01": first.key,
        "2024-01-02": first.key,
        "2024-01-03": f"{HISTORY}2024-01-03/data.parquet",
    }
    # Rerunning a day with the same bytes changes nothing.
    again = SnapshotHistory(store, bucket, ADDRESS).store_file("2024-01-02", same)
    assert (again.key, again.same_as, again.newest) == (first.key, "2024-01-01", False)
    assert len(keys(store, bucket)) == 3


def test_rebuilding_a_referenced_day_first_gives_its_bytes_to_the_newest_referrer(
    lake: tuple[ObjectStore, str], tmp_path: Path
) -> None:
    store, bucket = lake
    same = parquet(tmp_path, "same", [7, 8])
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        SnapshotHistory(store, bucket, ADDRESS).store_file(day, same)
    assert keys(store, bucket) == [
        "2024-01-01/data.parquet",
        "2024-01-02/_same_as_2024-01-01.json",
        "2024-01-03/_same_as_2024-01-01.json",
    ]
    rebuilt = SnapshotHistory(store, bucket, ADDRESS).store_file(
        "2024-01-01", parquet(tmp_path, "fixed", [70, 80])
    )
    assert (rebuilt.same_as, rebuilt.newest) == (None, False)
    assert keys(store, bucket) == [
        "2024-01-01/data.parquet",
        "2024-01-02/_same_as_2024-01-03.json",
        "2024-01-03/data.parquet",
    ]
    kept = kept_snapshots(store, bucket, ADDRESS)
    assert {day: values(store, bucket, key) for day, key in kept.items()} == {
        "2024-01-01": [70, 80],
        "2024-01-02": [7, 8],
        "2024-01-03": [7, 8],
    }
    assert store.sha256(bucket, f"{HISTORY}2024-01-03/data.parquet") == file_sha256(same)
    # A day rebuilt identical to its neighbour becomes a reference, its bytes handed on first.
    back = SnapshotHistory(store, bucket, ADDRESS).store_file("2024-01-03", same)
    assert back.same_as is None  # it already holds those bytes: nothing changes
    assert resolve_snapshot(store, bucket, ADDRESS, "2024-01-02") == back.key


def test_retention_prunes_old_days_and_moves_still_referenced_bytes(
    lake: tuple[ObjectStore, str], tmp_path: Path
) -> None:
    store, bucket = lake
    same = parquet(tmp_path, "same", [1])
    days = [f"2024-01-0{d}" for d in range(1, 6)]
    for day in days:
        SnapshotHistory(store, bucket, ADDRESS).store_file(day, same)
    history = SnapshotHistory(store, bucket, ADDRESS)
    assert history.prune(2) == ["2024-01-01", "2024-01-02"]
    assert keys(store, bucket) == [
        "2024-01-03/_same_as_2024-01-05.json",
        "2024-01-04/_same_as_2024-01-05.json",
        "2024-01-05/data.parquet",
    ]
    assert {
        values(store, bucket, k) == [1] for k in kept_snapshots(store, bucket, ADDRESS).values()
    } == {True}
    # A later prune removes only the small references of old days: the bytes stay put.
    assert SnapshotHistory(store, bucket, ADDRESS).prune(0) == ["2024-01-03", "2024-01-04"]
    assert keys(store, bucket) == ["2024-01-05/data.parquet"]
    # A backfill of a pruned day stores it again; the partition just written is never pruned.
    old = SnapshotHistory(store, bucket, ADDRESS)
    restored = old.store_file("2024-01-01", parquet(tmp_path, "old", [0]))
    assert restored.newest is False
    assert old.prune(0, keep={"2024-01-01"}) == []
    assert keys(store, bucket) == ["2024-01-01/data.parquet", "2024-01-05/data.parquet"]


def test_partitions_that_are_not_dates_are_never_pruned(
    lake: tuple[ObjectStore, str], tmp_path: Path
) -> None:
    store, bucket = lake
    for partition in ("alpha", "beta"):
        SnapshotHistory(store, bucket, ADDRESS).store_file(
            partition, parquet(tmp_path, partition, [len(partition)])
        )
    assert SnapshotHistory(store, bucket, ADDRESS).prune(0) == []
    assert keys(store, bucket) == ["alpha/data.parquet", "beta/data.parquet"]


def test_a_reference_whose_bytes_changed_behind_it_fails_loudly(
    lake: tuple[ObjectStore, str], tmp_path: Path
) -> None:
    store, bucket = lake
    same = parquet(tmp_path, "same", [1, 2])
    for day in ("2024-01-01", "2024-01-02"):
        SnapshotHistory(store, bucket, ADDRESS).store_file(day, same)
    # What a concurrent writer unaware of the reference would leave.
    store.put_file(bucket, f"{HISTORY}2024-01-01/data.parquet", parquet(tmp_path, "x", [9, 9]))
    with pytest.raises(BrokenSnapshotError, match="partition 2024-01-02 is kept as a reference"):
        resolve_snapshot(store, bucket, ADDRESS, "2024-01-02")


def test_keeping_the_current_table_refers_to_its_version_or_copies_it(
    lake: tuple[ObjectStore, str], tmp_path: Path
) -> None:
    store, bucket = lake
    table = parquet(tmp_path, "table", [5, 6, 7])
    current = ADDRESS.table_key()
    store.put_file(bucket, current, table)
    # No version holds the current table's bytes (a lake from before history): a copy.
    first = SnapshotHistory(store, bucket, ADDRESS).store_copy("2024-01-01", current)
    assert (first.key, first.same_as, first.newest) == (
        f"{HISTORY}2024-01-01/data.parquet",
        None,
        True,
    )
    second = SnapshotHistory(store, bucket, ADDRESS).store_copy("2024-01-02", current)
    assert (second.key, second.same_as, second.newest) == (first.key, "2024-01-01", True)
    assert keys(store, bucket) == ["2024-01-01/data.parquet", "2024-01-02/_same_as_2024-01-01.json"]
    assert store.sha256(bucket, first.key) == file_sha256(table)
    assert values(store, bucket, first.key) == [5, 6, 7]


def test_copy_is_atomic_keeps_the_checksum_and_stays_independent(
    lake: tuple[ObjectStore, str], tmp_path: Path
) -> None:
    store, bucket = lake
    small = tmp_path / "small"
    small.write_bytes(b"abc")
    big = tmp_path / "big"
    big.write_bytes(bytes(range(256)) * (7 * MIB // 256))  # over the test copy threshold (S3)
    for name, path in (("small", small), ("big", big)):
        store.put_file(bucket, f"copy/{name}", path)
        info = store.copy(bucket, f"copy/{name}", f"copy/{name}-copy")
        assert info.size == path.stat().st_size
        assert store.sha256(bucket, f"copy/{name}-copy") == file_sha256(path)
    store.put_file(bucket, "copy/small", big)  # replacing the source leaves the copy alone
    with store.open_read(bucket, "copy/small-copy") as handle:
        assert handle.read() == b"abc"


@pytest.mark.integration
def test_a_parquet_footer_is_read_without_the_whole_object(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    client = s3_client(request.getfixturevalue("moto_endpoint"))
    bucket = f"footer-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    store = S3ObjectStore(client)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"n": list(range(500_000))}), path, row_group_size=100_000)
    info = store.put_file(bucket, "t.parquet", path)
    with store.open_read(bucket, "t.parquet") as handle:
        footer = pq.ParquetFile(handle)
        assert (footer.metadata.num_rows, footer.metadata.num_row_groups) == (500_000, 5)
        assert footer.schema_arrow.names == ["n"]
        fetched = handle.bytes_fetched  # type: ignore[attr-defined]
    assert 0 < fetched < info.size // 10
