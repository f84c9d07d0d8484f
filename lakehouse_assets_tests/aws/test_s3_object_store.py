"""S3ObjectStore against moto over HTTP: the guarantees the lake relies on, on S3.

Atomic replace, create-only that tells our own landed write (a retried PUT whose response was
lost answers 412) from a real conflict, encryption on every object whatever the upload path,
listings in key order across pages, and no multipart upload left behind by a failed write.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lakehouse_assets.lake.object_store import ObjectExistsError
from lakehouse_assets.lake.s3_object_store import MIB, S3ObjectStore
from lakehouse_assets_tests.aws.conftest import CREDENTIALS

pytestmark = pytest.mark.integration

REGION = "us-west-2"
BUCKET = "objstore-tests"


@pytest.fixture(scope="module")
def s3(moto_endpoint: str) -> Iterator[Any]:
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    yield client


def _file(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_put_replaces_download_lists_and_deletes(s3: Any, tmp_path: Path) -> None:
    store = S3ObjectStore(s3, list_page_size=2)
    for name in ("e", "a", "c", "b", "d"):
        store.put_file(BUCKET, f"listing/{name}.json", _file(tmp_path, name, name.encode()))
    info = store.put_file(BUCKET, "listing/c.json", _file(tmp_path, "c2", b"replaced"))
    assert (info.bucket, info.key, info.size) == (BUCKET, "listing/c.json", 8)
    # Five objects in pages of two, still one listing in key order.
    assert [o.key for o in store.list(BUCKET, "listing/")] == [f"listing/{n}.json" for n in "abcde"]
    store.download(BUCKET, "listing/c.json", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"replaced"
    assert store.uri(BUCKET, "listing/c.json") == f"s3://{BUCKET}/listing/c.json"
    assert store.exists(BUCKET, "listing/c.json")
    store.delete(BUCKET, "listing/c.json")
    store.delete(BUCKET, "listing/c.json")  # missing is fine
    assert not store.exists(BUCKET, "listing/c.json")
    with pytest.raises(ValueError, match="unsafe object key"):
        store.put_file(BUCKET, "listing/../gold/x", _file(tmp_path, "x", b"x"))


def test_create_only_tells_our_landed_write_from_a_conflict(s3: Any, tmp_path: Path) -> None:
    store = S3ObjectStore(s3)
    ours = _file(tmp_path, "ours", b'[{"ID": "1"}]')
    first = store.put_file(BUCKET, "raw/snapshot.json", ours, create_only=True)
    # What botocore's retry of a PUT whose response was lost sees: 412, and our own bytes there.
    again = store.put_file(BUCKET, "raw/snapshot.json", ours, create_only=True)
    assert again.etag == first.etag
    with pytest.raises(ObjectExistsError, match=r"raw/snapshot\.json already exists"):
        store.put_file(
            BUCKET, "raw/snapshot.json", _file(tmp_path, "theirs", b"[]"), create_only=True
        )
    body = s3.get_object(Bucket=BUCKET, Key="raw/snapshot.json")["Body"].read()
    assert body == b'[{"ID": "1"}]'


def test_multipart_upload_is_encrypted_and_leaves_nothing_behind(s3: Any, tmp_path: Path) -> None:
    store = S3ObjectStore(s3, multipart_threshold=6 * MIB, part_size=5 * MIB)
    content = os.urandom(11 * MIB)
    big = _file(tmp_path, "big", content)
    info = store.put_file(BUCKET, "big/data.parquet", big, create_only=True)
    assert info.size == 11 * MIB
    assert info.etag.endswith("-3")  # three parts: 5 + 5 + 1 MiB
    head = s3.head_object(Bucket=BUCKET, Key="big/data.parquet")
    assert head["ServerSideEncryption"] == "AES256"
    store.download(BUCKET, "big/data.parquet", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == content
    other = _file(tmp_path, "other", os.urandom(7 * MIB))
    with pytest.raises(ObjectExistsError):
        store.put_file(BUCKET, "big/data.parquet", other, create_only=True)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert s3.get_object(Bucket=BUCKET, Key="big/data.parquet")["ContentLength"] == 11 * MIB


def test_sse_kms_key_is_applied_to_every_write(s3: Any, moto_endpoint: str, tmp_path: Path) -> None:
    kms = boto3.client(
        "kms",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    key_arn = kms.create_key(Description="lake")["KeyMetadata"]["Arn"]
    store = S3ObjectStore(
        s3,
        sse_algorithm="aws:kms",
        kms_key_id=key_arn,
        multipart_threshold=6 * MIB,
        part_size=5 * MIB,
    )
    store.put_file(BUCKET, "kms/small.json", _file(tmp_path, "s", b"{}"))
    store.put_file(BUCKET, "kms/big.bin", _file(tmp_path, "b", os.urandom(6 * MIB)))
    for key in ("kms/small.json", "kms/big.bin"):
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    with pytest.raises(ValueError, match="kms_key_id needs sse_algorithm 'aws:kms'"):
        S3ObjectStore(s3, kms_key_id=key_arn)
