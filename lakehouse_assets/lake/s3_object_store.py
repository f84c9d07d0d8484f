"""The lake's object store on S3, with the same guarantees as the local directory tree.

- Atomic replace: a single PUT, or for big files a multipart upload that only becomes visible when
  it is completed (and is aborted on any failure, so no orphaned parts are billed).
- Create-only: ``If-None-Match: *``. botocore retries a PUT whose response was lost; the retry then
  answers 412 although our own write landed. Every object carries its SHA-256 in its metadata, so a
  412 is a conflict only when the object there has a different checksum.
- Encryption: SSE-S3 (``AES256``) or SSE-KMS with a key id, sent with EVERY write, so no object
  depends on the bucket's default encryption being configured.
- Listing: ``ListObjectsV2`` pages, which S3 returns in key (UTF-8 binary) order.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from lakehouse_assets.lake.object_store import (
    ObjectExistsError,
    ObjectInfo,
    ObjectStore,
    validate_key,
)

SHA256_METADATA = "sha256"  # stored as x-amz-meta-sha256
SSE_S3 = "AES256"
SSE_KMS = "aws:kms"
MIB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 64 * MIB
DEFAULT_PART_SIZE = 16 * MIB  # S3 parts are 5 MiB..5 GiB (the last may be smaller)
MIN_PART_SIZE = 5 * MIB


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3ObjectStore(ObjectStore):
    """Buckets and keys on S3 (or any endpoint speaking its API) through one boto3 client."""

    def __init__(
        self,
        client: Any,
        *,
        sse_algorithm: str = SSE_S3,
        kms_key_id: str | None = None,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        list_page_size: int = 1000,
    ):
        if sse_algorithm not in (SSE_S3, SSE_KMS):
            raise ValueError(f"sse_algorithm must be {SSE_S3!r} or {SSE_KMS!r}")
        if kms_key_id and sse_algorithm != SSE_KMS:
            raise ValueError("kms_key_id needs sse_algorithm 'aws:kms'")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.client = client
        self.sse_algorithm = sse_algorithm
        self.kms_key_id = kms_key_id
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.list_page_size = list_page_size

    def encryption_args(self) -> dict[str, str]:
        """The SSE arguments sent with every PUT and multipart upload."""
        args = {"ServerSideEncryption": self.sse_algorithm}
        if self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args

    def put_file(
        self, bucket: str, key: str, path: Path, *, create_only: bool = False
    ) -> ObjectInfo:
        validate_key(key)
        checksum = file_sha256(path)
        size = Path(path).stat().st_size
        try:
            if size >= self.multipart_threshold:
                self._multipart(bucket, key, path, checksum, create_only)
            else:
                self._single_put(bucket, key, path, checksum, create_only)
        except ClientError as exc:
            if not (create_only and _status(exc) == 412):
                raise
            if self._stored_sha256(bucket, key) != checksum:
                raise ObjectExistsError(f"{bucket}/{key} already exists") from None
            # Our own earlier attempt landed and only its response was lost.
        return self.head(bucket, key)

    def _write_args(self, checksum: str) -> dict[str, Any]:
        return {"Metadata": {SHA256_METADATA: checksum}, **self.encryption_args()}

    def _single_put(
        self, bucket: str, key: str, path: Path, checksum: str, create_only: bool
    ) -> None:
        extra = {"IfNoneMatch": "*"} if create_only else {}
        with open(path, "rb") as body:
            self.client.put_object(
                Bucket=bucket, Key=key, Body=body, **self._write_args(checksum), **extra
            )

    def _multipart(
        self, bucket: str, key: str, path: Path, checksum: str, create_only: bool
    ) -> None:
        upload_id = self.client.create_multipart_upload(
            Bucket=bucket, Key=key, **self._write_args(checksum)
        )["UploadId"]
        try:
            parts = []
            with open(path, "rb") as handle:
                for number, chunk in enumerate(iter(lambda: handle.read(self.part_size), b""), 1):
                    etag = self.client.upload_part(
                        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                    )["ETag"]
                    parts.append({"ETag": etag, "PartNumber": number})
            extra = {"IfNoneMatch": "*"} if create_only else {}
            self.client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **extra,
            )
        except BaseException:
            # If the abort fails too, the bucket's lifecycle rule removes the parts later.
            with contextlib.suppress(ClientError):
                self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    def _stored_sha256(self, bucket: str, key: str) -> str | None:
        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        return head.get("Metadata", {}).get(SHA256_METADATA)

    def head(self, bucket: str, key: str) -> ObjectInfo:
        head = self.client.head_object(Bucket=bucket, Key=key)
        return ObjectInfo(
            bucket,
            key,
            int(head["ContentLength"]),
            str(head["ETag"]).strip('"'),
            head["LastModified"].timestamp(),
        )

    def download(self, bucket: str, key: str, path: Path) -> None:
        response = self.client.get_object(Bucket=bucket, Key=validate_key(key))
        body = response["Body"]
        try:
            with open(path, "wb") as handle:
                for chunk in iter(lambda: body.read(MIB), b""):
                    handle.write(chunk)
        finally:
            body.close()

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": self.list_page_size}
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    bucket,
                    item["Key"],
                    int(item["Size"]),
                    str(item["ETag"]).strip('"'),
                    item["LastModified"].timestamp(),
                )

    def info(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            return self.head(bucket, key)
        except ClientError as exc:
            if _status(exc) == 404 or _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def delete(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=validate_key(key))

    def uri(self, bucket: str, key: str) -> str:
        return f"s3://{bucket}/{key}"
