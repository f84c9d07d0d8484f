"""A day's bronze and silver from what changed: the pages a snapshot repeats are not parsed
or typed again.

An endpoint that pages an append-mostly table (statistics, ordered by id) serves the same
first pages every day; only the last few change (yesterday's last page fills up, counts of the
newest rows move, new rows follow). The raw step keeps a page index beside each snapshot
(:func:`~lakehouse_assets.medallion.raw.read_page_index`: where each page lies, its digest), so
bronze compares today's index with that of the snapshot behind the current bronze table: the
rows of the leading pages both share are the current table's first rows, whatever the size.
The new table is those rows' Parquet row groups, copied as bytes
(:mod:`~lakehouse_assets.lake.parquet_splice`), then the changed pages parsed. A table whose
columns would change, a snapshot that repeats no page, or anything unexpected falls back to
parsing everything, which gives the same rows.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from lakehouse_assets.lake.layout import ingested_at
from lakehouse_assets.lake.parquet_splice import ParquetSpliceError, RowGroups, splice
from lakehouse_assets.lake.staging import staging_prefix
from lakehouse_assets.medallion.bronze import write_bronze_file
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.raw import PageIndex, read_page_index
from lakehouse_assets.medallion.silver import SilverReport
from lakehouse_assets.resources.lake import LakeResource

#: Metadata key of a bronze materialization built from a previous one's rows.
INCREMENTAL = "incremental"


@dataclass(frozen=True)
class BronzeSplice:
    """How a bronze table was built from the current one: the rows kept, the rows parsed."""

    base_snapshot: str
    first_changed_page: int
    rows_kept: int
    rows_parsed: int
    rows_replaced: int

    @property
    def rows(self) -> int:
        return self.rows_kept + self.rows_parsed

    def metadata(self) -> dict[str, Any]:
        return {
            "base_snapshot": self.base_snapshot,
            "first_changed_page": self.first_changed_page,
            "rows_kept": self.rows_kept,
            "rows_parsed": self.rows_parsed,
            "rows_replaced": self.rows_replaced,
        }


def first_changed_page(old: PageIndex, new: PageIndex) -> int:
    """Index of the first page that differs (in place or content) between two snapshots."""
    for index, (before, after) in enumerate(zip(old, new, strict=False)):
        if before != after:
            return index
    return min(len(old), len(new))


def _tail(data: bytes) -> bytes:
    """The elements from a page boundary to the array's end, as their own JSON array."""
    body = data.rstrip()
    if not body.endswith(b"]"):
        raise ValueError("a snapshot of pages ends with ']'")
    body = body[:-1].strip()
    if body.startswith(b","):
        body = body[1:]
    return b"[" + body + b"]"


def _bronze_of_tail(
    handle: BinaryIO,
    offset: int,
    stem: Path,
    moment: datetime,
    snapshot_key: str,
    source: str,
    dataset: str,
) -> int:
    """The snapshot's rows from the page starting at ``offset`` as bronze, into
    ``{stem}.parquet`` (via ``{stem}.json``); returns their count."""
    handle.seek(offset)
    stem.with_suffix(".json").write_bytes(_tail(handle.read()))
    return write_bronze_file(
        stem.with_suffix(".json"),
        stem.with_suffix(".parquet"),
        moment,
        snapshot_key,
        source,
        dataset,
    )


def splice_bronze(
    lake: LakeResource,
    source: str,
    dataset: str,
    base_snapshot: str,
    current_table: Path,
    snapshot_key: str,
    snapshot_path: Path,
    out: Path,
) -> BronzeSplice | None:
    """Bronze of ``snapshot_key`` into ``out`` from the current table (built from
    ``base_snapshot``) and the pages that changed; None when that is not possible."""
    import pyarrow.parquet as pq

    old_index = read_page_index(lake, base_snapshot)
    new_index = read_page_index(lake, snapshot_key)
    if (
        not old_index
        or not new_index
        or not lake.object_store().exists(lake.bucket("raw"), base_snapshot)
    ):
        return None
    first = first_changed_page(old_index, new_index)
    if first == 0:
        return None
    old_moment, new_moment = ingested_at(base_snapshot), ingested_at(snapshot_key)
    if old_moment is None or new_moment is None:
        return None
    store = lake.object_store()
    current = pq.ParquetFile(current_table)
    with tempfile.TemporaryDirectory(prefix=staging_prefix()) as directory:
        work = Path(directory)
        replaced = 0
        if first < len(old_index):  # the old snapshot's rows from the first changed page on
            with store.open_read(lake.bucket("raw"), base_snapshot) as handle:
                replaced = _bronze_of_tail(
                    handle,
                    old_index[first][0],
                    work / "old",
                    old_moment,
                    base_snapshot,
                    source,
                    dataset,
                )
            if replaced and not _same_columns(work / "old.parquet", current):
                return None
        kept = current.metadata.num_rows - replaced
        if kept <= 0:
            return None
        parsed = 0
        parts = _leading_rows(current, current_table, kept, work)
        if first < len(new_index):
            with open(snapshot_path, "rb") as handle:
                parsed = _bronze_of_tail(
                    handle,
                    new_index[first][0],
                    work / "new",
                    new_moment,
                    snapshot_key,
                    source,
                    dataset,
                )
            if parsed:
                tail = pq.ParquetFile(work / "new.parquet")
                if not _same_columns(work / "new.parquet", current):
                    return None
                parts.append(RowGroups(work / "new.parquet", range(tail.num_row_groups)))
        try:
            rows = splice(parts, out)
        except ParquetSpliceError:
            return None
    if rows != kept + parsed:
        return None
    return BronzeSplice(base_snapshot, first, kept, parsed, replaced)


def _same_columns(path: Path, current: Any) -> bool:
    import pyarrow.parquet as pq

    return bool(pq.read_schema(path).equals(current.schema_arrow, check_metadata=False))


def _leading_rows(current: Any, path: Path, rows: int, work: Path) -> list[RowGroups]:
    """The current table's first ``rows`` rows: whole row groups as they are, the rest of a
    row group written again (one group at most)."""
    import pyarrow.parquet as pq

    from lakehouse_assets.lake.parquet import COMPRESSION

    whole: list[int] = []
    start = 0
    parts: list[RowGroups] = []
    for group in range(current.metadata.num_row_groups):
        size = current.metadata.row_group(group).num_rows
        if start + size <= rows:
            whole.append(group)
            start += size
            continue
        if start < rows:
            partial = current.read_row_group(group).slice(0, rows - start)
            pq.write_table(
                partial.replace_schema_metadata(current.schema_arrow.metadata),
                work / "partial.parquet",
                compression=COMPRESSION,
            )
        break
    parts.append(RowGroups(path, whole))
    if (work / "partial.parquet").exists():
        parts.append(RowGroups(work / "partial.parquet", [0]))
    return parts


#: Metadata key of a silver materialization: its whole report, for the next day to build on.
SILVER_REPORT = "silver_report"


@dataclass(frozen=True)
class SilverSplice:
    """How a silver table was built from the current one."""

    rows_kept: int
    rows_typed: int
    rows_replaced: int

    def metadata(self) -> dict[str, Any]:
        return {
            "rows_kept": self.rows_kept,
            "rows_typed": self.rows_typed,
            "rows_replaced": self.rows_replaced,
        }


def splice_silver(
    lake: LakeResource,
    source: str,
    schema: DatasetSchema,
    bronze: Path,
    bronze_splice: dict[str, Any],
    current_table: Path,
    current_report: SilverReport,
    out: Path,
) -> tuple[SilverReport, SilverSplice] | None:
    """Silver of ``bronze`` (built by :func:`splice_bronze`) into ``out`` from the current
    silver table and the rows that changed; None when that is not possible.

    Exact when every row bronze kept has a smaller key than every row it replaced or added
    (an append-mostly table listed in key order): the current silver is then the kept rows'
    silver followed by the replaced rows', so the new one is the same kept rows followed by
    the added rows' silver, and the report is the current one with the replaced rows' counts
    taken out and the added rows' put in. Only the key of the kept rows is typed again.
    """
    import pyarrow.parquet as pq

    from lakehouse_assets.medallion.silver import leading_key_range, write_silver_file

    if len(schema.key) != 1 or current_report.null_keys:
        return None
    kept_bronze = int(bronze_splice["rows_kept"])
    base_snapshot = str(bronze_splice["base_snapshot"])
    first = int(bronze_splice["first_changed_page"])
    current = pq.ParquetFile(current_table)
    if current.metadata.num_rows != current_report.rows_out:
        return None
    old_moment = ingested_at(base_snapshot)
    old_index = read_page_index(lake, base_snapshot)
    if (
        old_moment is None
        or old_index is None
        or not lake.object_store().exists(lake.bucket("raw"), base_snapshot)
    ):
        return None
    key = schema.key[0]
    with tempfile.TemporaryDirectory(prefix=staging_prefix()) as directory:
        work = Path(directory)
        replaced = SilverReport()
        bounds: list[Any] = []
        if int(bronze_splice["rows_replaced"]) and first < len(old_index):
            with lake.object_store().open_read(lake.bucket("raw"), base_snapshot) as handle:
                _bronze_of_tail(
                    handle,
                    old_index[first][0],
                    work / "old",
                    old_moment,
                    base_snapshot,
                    source,
                    schema.name,
                )
            replaced = write_silver_file(work / "old.parquet", work / "old_silver.parquet", schema)
            bounds.append(_smallest(work / "old_silver.parquet", key))
        added = SilverReport()
        new_parts: list[RowGroups] = []
        if _rows_from(bronze, kept_bronze, work / "new.parquet"):
            added = write_silver_file(work / "new.parquet", work / "new_silver.parquet", schema)
            if added.null_keys:
                return None
            bounds.append(_smallest(work / "new_silver.parquet", key))
            tail = pq.ParquetFile(work / "new_silver.parquet")
            if not tail.schema_arrow.equals(current.schema_arrow, check_metadata=False):
                return None
            new_parts.append(RowGroups(work / "new_silver.parquet", range(tail.num_row_groups)))
        greatest, null_keys = leading_key_range(bronze, schema, kept_bronze)
        bounds = [b for b in bounds if b is not None]
        if null_keys or greatest is None or (bounds and not greatest < min(bounds)):
            return None
        kept = current_report.rows_out - replaced.rows_out
        if kept <= 0:
            return None
        parts = _leading_rows(current, current_table, kept, work) + new_parts
        try:
            rows = splice(parts, out)
            key_values = _key_values(current, new_parts, out)
            if key_values is not None:
                splice(parts, out, key_values)
        except ParquetSpliceError:
            return None
    report = _combined(current_report, replaced, added)
    if rows != report.rows_out:
        return None
    return report, SilverSplice(kept, added.rows_in, replaced.rows_in)


def _rows_from(bronze: Path, start: int, out: Path) -> int:
    """Rows ``start`` on of a bronze file into ``out`` (the few a day added); their count."""
    import pyarrow.parquet as pq

    from lakehouse_assets.lake.parquet import COMPRESSION

    parquet = pq.ParquetFile(bronze)
    if parquet.metadata.num_rows <= start:
        return 0
    written = 0
    offset = 0
    with pq.ParquetWriter(out, parquet.schema_arrow, compression=COMPRESSION) as writer:
        for group in range(parquet.metadata.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            if offset + size > start:
                table = parquet.read_row_group(group)
                table = table.slice(max(0, start - offset))
                writer.write_table(table)
                written += table.num_rows
            offset += size
    return written


def _smallest(path: Path, key: str) -> Any:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    return pc.min(pq.read_table(path, columns=[key]).column(key)).as_py()


def _key_values(current: Any, new_parts: list[RowGroups], out: Path) -> dict[bytes, bytes] | None:
    """The footer's key-value metadata: the current table's, unless the integer columns that
    hold nulls (read as pandas ``Int64``) are no longer the ones it marks; then the added
    rows' file's, which marks what it holds; None (the current's) when they agree."""
    import pyarrow.parquet as pq

    from lakehouse_assets.lake.parquet import integers_with_nulls, marked_nullable

    wanted = set(integers_with_nulls(out))
    if marked_nullable(current.schema_arrow) == wanted:
        return None
    for part in new_parts:
        schema = pq.read_schema(part.path)
        if marked_nullable(schema) == wanted:
            return dict(schema.metadata or {})
    raise ParquetSpliceError("nullable integer columns changed")


def _combined(total: SilverReport, minus: SilverReport, plus: SilverReport) -> SilverReport:
    """``total`` with ``minus``'s counts taken out and ``plus``'s put in."""

    def counts(name: str) -> dict[str, int]:
        a, b, c = (getattr(r, name) for r in (total, minus, plus))
        merged = {k: a.get(k, 0) - b.get(k, 0) + c.get(k, 0) for k in {**a, **c}}
        return {k: v for k, v in merged.items() if v > 0}

    report = SilverReport(
        rows_in=total.rows_in - minus.rows_in + plus.rows_in,
        rows_out=total.rows_out - minus.rows_out + plus.rows_out,
        missing_columns=plus.missing_columns if plus.rows_in else total.missing_columns,
        extra_columns=plus.extra_columns if plus.rows_in else total.extra_columns,
        unparseable_integers=counts("unparseable_integers"),
        unparseable_dates=counts("unparseable_dates"),
        zero_dates=counts("zero_dates"),
        impossible_dates=counts("impossible_dates"),
        duplicate_rows_removed=total.duplicate_rows_removed
        - minus.duplicate_rows_removed
        + plus.duplicate_rows_removed,
        superseded_rows_removed=total.superseded_rows_removed
        - minus.superseded_rows_removed
        + plus.superseded_rows_removed,
    )
    for column in [*report.unparseable_integers, *report.unparseable_dates]:
        seen = [
            *total.unparseable_examples.get(column, []),
            *plus.unparseable_examples.get(column, []),
        ]
        report.unparseable_examples[column] = list(dict.fromkeys(seen))[:3]
    return report


def report_of(values: dict[str, Any]) -> SilverReport:
    """A report as :data:`SILVER_REPORT` recorded it."""
    return SilverReport(**values)
