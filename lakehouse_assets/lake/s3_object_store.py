"""The lake's object store on S3, with the same guarantees as the local directory tree.

- Atomic replace: a single PUT, or for big files a multipart upload that only becomes visible when
  it is completed (and is aborted on any failure, so no orphaned parts are billed).
- Create-only: ``If-None-Match: *``. botocore retries a PUT whose response was lost; the retry then
  answers 412 although our own write landed. Every object carries its SHA-256 in its metadata, so a
  412 is a conflict only when the object there has a different checksum.
- Encryption: SSE-S3 (``AES256``) or SSE-KMS with a key id, sent with EVERY write, so no object
  depends on the bucket's default encryption being configured.
- Listing: ``ListObjectsV2`` pages, which S3 returns in key (UTF-8 binary) order.
- Copy: server-side (``CopyObject``, or a multipart ``UploadPartCopy`` past 5 GiB), keeping the
  SHA-256 metadata and encrypting the copy; no byte passes through this process.
- Reads of part of an object (a Parquet footer) are ranged GETs of just that part.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from lakehouse_assets.lake.object_store import (
    MIB,
    ObjectExistsError,
    ObjectInfo,
    ObjectStore,
    file_sha256,
    validate_key,
)

__all__ = ["MIB", "S3ObjectStore", "S3RangeReader", "file_sha256"]

SHA256_METADATA = "sha256"  # stored as x-amz-meta-sha256
SSE_S3 = "AES256"
SSE_KMS = "aws:kms"
DEFAULT_MULTIPART_THRESHOLD = 64 * MIB
DEFAULT_PART_SIZE = 16 * MIB  # S3 parts are 5 MiB..5 GiB (the last may be smaller)
MIN_PART_SIZE = 5 * MIB
#: The largest object one CopyObject copies; bigger ones are copied in parts.
MAX_SINGLE_COPY = 5 * 1024 * MIB
#: What opening an object for reading fetches from its end (a Parquet footer, typically).
TAIL_BYTES = 64 * 1024


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
        copy_threshold: int = MAX_SINGLE_COPY,
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
        self.copy_threshold = min(copy_threshold, MAX_SINGLE_COPY)

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

    def copy(self, bucket: str, source_key: str, key: str) -> ObjectInfo:
        validate_key(key)
        head = self.client.head_object(Bucket=bucket, Key=validate_key(source_key))
        size = int(head["ContentLength"])
        source = {"Bucket": bucket, "Key": source_key}
        if size < self.copy_threshold:
            self.client.copy_object(
                Bucket=bucket,
                Key=key,
                CopySource=source,
                MetadataDirective="COPY",
                **self.encryption_args(),
            )
        else:
            self._multipart_copy(bucket, key, source, size, head.get("Metadata", {}))
        return self.head(bucket, key)

    def _multipart_copy(
        self, bucket: str, key: str, source: dict[str, str], size: int, metadata: dict[str, str]
    ) -> None:
        upload_id = self.client.create_multipart_upload(
            Bucket=bucket, Key=key, Metadata=metadata, **self.encryption_args()
        )["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, size, self.part_size), 1):
                end = min(size, start + self.part_size) - 1
                result = self.client.upload_part_copy(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={start}-{end}",
                )
                parts.append({"ETag": result["CopyPartResult"]["ETag"], "PartNumber": number})
            self.client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(ClientError):
                self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    @contextlib.contextmanager
    def open_read(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        """Opening fetches the object's last bytes (where a Parquet footer is) in one GET, and
        learns its size from that response."""
        try:
            response = self.client.get_object(
                Bucket=bucket, Key=validate_key(key), Range=f"bytes=-{TAIL_BYTES}"
            )
        except ClientError as exc:
            if _status(exc) != 416:  # an empty object has no range to read
                raise
            tail, size = b"", 0
        else:
            body = response["Body"]
            try:
                tail = body.read()
            finally:
                body.close()
            content_range = str(response.get("ContentRange") or "")
            size = int(content_range.rsplit("/", 1)[1]) if "/" in content_range else len(tail)
        reader = S3RangeReader(self.client, bucket, key, size, tail=tail)
        try:
            yield reader  # type: ignore[misc]  # a RawIOBase is a binary reader
        finally:
            reader.close()

    def sha256(self, bucket: str, key: str) -> str:
        """From the object's metadata (every write here records it), else by reading it."""
        return self._stored_sha256(bucket, key) or super().sha256(bucket, key)

    def delete(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=validate_key(key))

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """A page of keys per request (``DeleteObjects`` takes up to 1,000)."""
        removed = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                removed += len(keys)
        return removed

    def uri(self, bucket: str, key: str) -> str:
        return f"s3://{bucket}/{key}"


class S3RangeReader(io.RawIOBase):
    """A seekable reader of one S3 object: reads within the already fetched ``tail`` (the
    object's last bytes) come from memory, any other is one ranged GET of just the bytes asked
    for (``requests`` and ``bytes_fetched`` count them, the tail included)."""

    def __init__(self, client: Any, bucket: str, key: str, size: int, tail: bytes = b""):
        super().__init__()
        self.client, self.bucket, self.key, self.size = client, bucket, key, size
        self.tail = tail
        self.position = 0
        self.requests = 1 if tail else 0
        self.bytes_fetched = len(tail)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        if end <= self.position:
            return b""
        tail_start = self.size - len(self.tail)
        if self.tail and self.position >= tail_start:
            cached = self.tail[self.position - tail_start : end - tail_start]
            self.position += len(cached)
            return cached
        response = self.client.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{end - 1}"
        )
        body = response["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        self.requests += 1
        self.bytes_fetched += len(data)
        self.position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
