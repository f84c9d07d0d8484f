"""Object storage behind one small interface: a local directory tree or S3.

Both implementations give the guarantees the lake relies on:
- ``put_file`` replaces an object atomically: readers see the old object or the new one, never
  a partial one (local: write a temp file under the bucket's ``_staging/`` folder, then
  ``os.replace`` it into place; S3: a single PUT or a completed multipart upload). A process
  killed mid-write leaves its temp file only in ``_staging/``, which no table prefix contains
  and no Parquet reader (pandas, DuckDB globs, Athena) lists; ``reap_staging`` removes it;
- ``put_file(create_only=True)`` never overwrites (local: ``os.link``; S3: ``If-None-Match: *``);
- ``list`` yields every object under a prefix in key order, however many there are;
- ``copy`` duplicates an object inside a bucket without passing its bytes through this process
  (local: a hard link; S3: a server-side copy), so history can move a table for free;
- ``open_read`` gives a seekable reader that fetches only what is read (S3: ranged GETs), so a
  Parquet footer is read without the whole object.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from lakehouse_assets.lake.layout import STAGING_ROOT

TEMP_PREFIX = ".tmp-"
#: A temp file older than this whose writer cannot be told alive is left over from a crash.
STALE_STAGING_SECONDS = 6 * 3600
MIB = 1024 * 1024


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    last_modified: float  # POSIX seconds


class ObjectExistsError(FileExistsError):
    """A create-only write found the key already taken."""


def validate_key(key: str) -> str:
    """Reject keys that could escape their prefix or collide with temp files."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise ValueError(f"unsafe object key {key!r}")
    if any(p.startswith(TEMP_PREFIX) for p in parts):
        raise ValueError(f"object key {key!r} uses the reserved prefix {TEMP_PREFIX!r}")
    return key


class ObjectStore(ABC):
    """Buckets of objects addressed by key."""

    @abstractmethod
    def put_file(
        self, bucket: str, key: str, path: Path, *, create_only: bool = False
    ) -> ObjectInfo:
        """Publish the file at ``path`` as ``bucket/key`` atomically."""

    @abstractmethod
    def download(self, bucket: str, key: str, path: Path) -> None:
        """Copy ``bucket/key`` to the local file ``path``."""

    @abstractmethod
    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in key order (temp files excluded)."""

    @abstractmethod
    def delete(self, bucket: str, key: str) -> None:
        """Remove one object; missing objects are fine."""

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Remove every object under ``prefix`` (a staging area); returns how many."""
        keys = [info.key for info in self.list(bucket, prefix)]
        for key in keys:
            self.delete(bucket, key)
        return len(keys)

    @abstractmethod
    def uri(self, bucket: str, key: str) -> str:
        """Where a user (or pandas) finds the object: a path or an s3:// URI."""

    @contextmanager
    def local_copy(self, bucket: str, key: str) -> Iterator[Path]:
        """A local file holding the object, for as long as the context lasts."""
        with tempfile.TemporaryDirectory(prefix="lakehouse-") as directory:
            path = Path(directory) / PurePosixPath(key).name
            self.download(bucket, key, path)
            yield path

    def copy(self, bucket: str, source_key: str, key: str) -> ObjectInfo:
        """Publish a copy of ``bucket/source_key`` as ``bucket/key`` atomically (server-side in
        both stores; this fallback passes the bytes through a local file)."""
        with self.local_copy(bucket, source_key) as path:
            return self.put_file(bucket, key, path)

    @contextmanager
    def open_read(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        """A seekable binary reader of the object (the base class downloads it whole)."""
        with self.local_copy(bucket, key) as path, open(path, "rb") as handle:
            yield handle

    def sha256(self, bucket: str, key: str) -> str:
        """The SHA-256 of the object's bytes (hex)."""
        with self.local_copy(bucket, key) as path:
            return file_sha256(path)

    def put_json(self, bucket: str, key: str, value: Any) -> ObjectInfo:
        """Publish a small JSON document atomically."""
        with tempfile.TemporaryDirectory(prefix="lakehouse-") as directory:
            path = Path(directory) / "object.json"
            path.write_text(json.dumps(value, indent=1, sort_keys=True), encoding="utf-8")
            return self.put_file(bucket, key, path)

    def read_json(self, bucket: str, key: str) -> Any:
        with self.open_read(bucket, key) as handle:
            return json.loads(handle.read())

    def info(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object at exactly ``key``, or None when there is none."""
        return next((o for o in self.list(bucket, key) if o.key == key), None)

    def exists(self, bucket: str, key: str) -> bool:
        return self.info(bucket, key) is not None

    def listed(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object at exactly ``key`` as a listing shows it (its size as stored)."""
        return next((o for o in self.list(bucket, key) if o.key == key), None)


class LocalObjectStore(ObjectStore):
    """Buckets as directories under ``root``: ``{root}/{bucket}/{key}``."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, bucket: str, key: str) -> Path:
        validate_key(bucket)
        return self.root / bucket / validate_key(key)

    def _temp_path(self, bucket: str) -> Path:
        """A new temp file's name in the bucket's ``_staging/``, named after this process."""
        staging = self.root / bucket / STAGING_ROOT
        staging.mkdir(parents=True, exist_ok=True)
        return staging / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"

    def put_file(
        self, bucket: str, key: str, path: Path, *, create_only: bool = False
    ) -> ObjectInfo:
        target = self._path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = self._temp_path(bucket)
        try:
            shutil.copyfile(path, temp)
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
            if create_only:
                try:
                    os.link(temp, target)
                except FileExistsError:
                    raise ObjectExistsError(f"{bucket}/{key} already exists") from None
            else:
                os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        return self._info(bucket, key, target)

    def copy(self, bucket: str, source_key: str, key: str) -> ObjectInfo:
        source = self._path(bucket, source_key)
        target = self._path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = self._temp_path(bucket)
        try:
            try:
                # A second name for the same bytes: a later replace of either name gives that
                # name a new file, so the copy stays as it was (and costs no disk).
                os.link(source, temp)
            except OSError:
                shutil.copyfile(source, temp)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        return self._info(bucket, key, target)

    @contextmanager
    def open_read(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        with open(self._path(bucket, key), "rb") as handle:
            yield handle

    def sha256(self, bucket: str, key: str) -> str:
        return file_sha256(self._path(bucket, key))

    def info(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self._path(bucket, key)
        return self._info(bucket, key, path) if path.is_file() else None

    def listed(self, bucket: str, key: str) -> ObjectInfo | None:
        return self.info(bucket, key)

    def download(self, bucket: str, key: str, path: Path) -> None:
        shutil.copyfile(self._path(bucket, key), path)

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        base = self.root / bucket
        if not base.is_dir():
            return
        # Walk only the deepest directory the prefix names, then filter by the full prefix.
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = base / directory if directory else base
        if not start.is_dir():
            return
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(TEMP_PREFIX)]
            rel_dir = Path(dirpath).relative_to(base).as_posix()
            for name in filenames:
                if name.startswith(TEMP_PREFIX):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    found.append(key)
        for key in sorted(found):
            yield self._info(bucket, key, base / key)

    def delete(self, bucket: str, key: str) -> None:
        self._path(bucket, key).unlink(missing_ok=True)

    def reap_staging(self, bucket: str) -> builtins.list[str]:
        """Remove temp files killed writers left in the bucket (its ``_staging/`` folder, and any
        ``.tmp-`` file an older version left beside a table); returns their paths."""
        return reap_temp_files(self.root / bucket)

    def uri(self, bucket: str, key: str) -> str:
        return str(self.root / bucket / key)

    @contextmanager
    def local_copy(self, bucket: str, key: str) -> Iterator[Path]:
        # The file is already local; a replace during the read keeps our open inode intact.
        yield self._path(bucket, key)

    @staticmethod
    def _info(bucket: str, key: str, path: Path) -> ObjectInfo:
        stat = path.stat()
        etag = f"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"
        return ObjectInfo(bucket, key, stat.st_size, etag, stat.st_mtime)


def reap_temp_files(base: Path) -> list[str]:
    """Remove ``.tmp-{pid}-…`` files under ``base`` whose writer is gone; returns their paths."""
    from lakehouse_assets.lake.staging import is_leftover

    removed: list[str] = []
    if not base.is_dir():
        return removed
    for dirpath, _, filenames in os.walk(base):
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(TEMP_PREFIX) and is_leftover(
                path, name[len(TEMP_PREFIX) :], STALE_STAGING_SECONDS
            ):
                path.unlink(missing_ok=True)
                removed.append(str(path))
    return removed
