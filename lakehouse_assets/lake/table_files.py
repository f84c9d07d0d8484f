"""Tables as files, for steps that stream: what they return and what they are handed.

A step that returns a ``pa.Table`` holds the whole table in memory, and so does a step given
one. Big tables go through files instead: a step writes its result as Parquet into a staging
directory and returns a :class:`StagedTable`, which the IO manager publishes as it is (no
rewrite); a step whose input is annotated :class:`StoredTable` gets a handle and reads the
stored Parquet itself (DuckDB scans it in bounded memory, only the columns it needs). A step that
finds it would build the table already published returns :class:`CurrentTable` instead.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.object_store import ObjectStore
from lakehouse_assets.lake.staging import staging_prefix


@dataclass(frozen=True)
class StagedTable:
    """A Parquet file a step wrote for the IO manager to publish; removed once published."""

    path: Path

    def discard(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


@dataclass(frozen=True)
class CurrentTable:
    """What a step returns when its table would be identical to the one currently published
    for its asset: the IO manager keeps that table (nothing is written or copied) and records
    this partition's history entry as a reference to the version holding it."""


@contextmanager
def staged_table(name: str = "data.parquet") -> Iterator[StagedTable]:
    """A place for a step to write its table; removed if the step fails before handing it on.

    On success the file stays until the IO manager has published it (it then calls
    :meth:`StagedTable.discard`), so nothing half-written is ever published or left behind.
    """
    staged = StagedTable(Path(tempfile.mkdtemp(prefix=staging_prefix())) / name)
    try:
        yield staged
    except BaseException:
        staged.discard()
        raise


@dataclass(frozen=True)
class StoredTable:
    """An upstream table in the lake, not yet read: :meth:`local_path` gives its Parquet file."""

    address: TableAddress
    store: ObjectStore
    bucket: str
    key: str

    @contextmanager
    def local_path(self) -> Iterator[Path]:
        """The table's Parquet file on local disk (the file itself locally, a download on S3)."""
        with self.store.local_copy(self.bucket, self.key) as path:
            yield path
