"""Row groups joined byte for byte: the footer round-trips exactly, the joined file reads as
the concatenated rows in every reader the lake has (pyarrow, pandas, DuckDB), and files that
cannot be joined are refused, never half-joined."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.lake.parquet import write_parquet
from lakehouse_assets.lake.parquet_splice import (
    ParquetSpliceError,
    RowGroups,
    decode,
    encode,
    read_footer,
    splice,
)


def sample(start: int, rows: int) -> pa.Table:
    ids = list(range(start, start + rows))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "maybe": pa.array([None if i % 7 == 0 else i for i in ids], pa.int64()),
            "name": pa.array([f"név {i} ✓" for i in ids]),
            "kind": pa.array(["post" if i % 2 else "page" for i in ids]).dictionary_encode(),
            "at": pa.array([datetime(2026, 1, 1 + i % 28) for i in ids], pa.timestamp("us")),
            "score": pa.array([i / 3 for i in ids], pa.float64()),
            "flag": pa.array([i % 3 == 0 for i in ids]),
            "tags": pa.array([[i, i + 1] for i in ids], pa.list_(pa.int64())),
        }
    )


def written(path: Path, table: pa.Table, row_group_size: int) -> Path:
    pq.write_table(table, path, compression="zstd", row_group_size=row_group_size)
    return path


def test_the_footer_round_trips_byte_for_byte(tmp_path: Path) -> None:
    path = written(tmp_path / "a.parquet", sample(0, 1000), 300)
    data = path.read_bytes()
    (length,) = struct.unpack("<i", data[-8:-4])
    footer = data[-8 - length : -8]
    fields, start = read_footer(path)
    assert start == len(data) - 8 - length
    assert encode(decode(footer)) == footer
    assert encode(fields) == footer


def test_spliced_row_groups_read_as_the_concatenated_rows(tmp_path: Path) -> None:
    head = written(tmp_path / "head.parquet", sample(0, 1000), 300)  # groups of 300,300,300,100
    tail = written(tmp_path / "tail.parquet", sample(5000, 250), 100)
    out = tmp_path / "out.parquet"
    rows = splice([RowGroups(head, [0, 1]), RowGroups(tail, [0, 1, 2])], out)
    expected = pa.concat_tables([sample(0, 600), sample(5000, 250)])
    assert rows == 850
    joined = pq.read_table(out)
    assert joined.num_rows == 850
    assert joined.cast(expected.schema).equals(expected)
    assert pq.ParquetFile(out).metadata.num_row_groups == 5
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected.to_pandas())
    ids = [*range(600), *range(5000, 5250)]
    counted = duckdb.sql(f"SELECT count(*), sum(id), max(name) FROM '{out}'").fetchall()[0]
    assert counted == (850, sum(ids), max(f"név {i} ✓" for i in ids))
    # a reader that seeks straight to the last row group finds its pages where the footer says
    assert pq.ParquetFile(out).read_row_group(4).column("id").to_pylist() == list(range(5200, 5250))


def test_key_value_metadata_can_be_replaced(tmp_path: Path) -> None:
    head = tmp_path / "head.parquet"
    write_parquet(sample(0, 10), head)  # marks "maybe" as pandas Int64 (it holds nulls)
    out = tmp_path / "out.parquet"
    splice([RowGroups(head, [0])], out, {b"owner": b"lake"})
    assert pq.read_schema(out).metadata == {b"owner": b"lake"}
    assert pd.read_parquet(out)["maybe"].dtype == "float64"  # no pandas metadata any more
    splice([RowGroups(head, [0])], out)
    assert str(pd.read_parquet(out)["maybe"].dtype) == "Int64"


def test_files_of_another_schema_are_refused(tmp_path: Path) -> None:
    head = written(tmp_path / "head.parquet", sample(0, 10), 10)
    other = written(tmp_path / "other.parquet", sample(0, 10).drop_columns(["flag"]), 10)
    out = tmp_path / "out.parquet"
    with pytest.raises(ParquetSpliceError, match="another schema"):
        splice([RowGroups(head, [0]), RowGroups(other, [0])], out)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ParquetSpliceError, match="not a Parquet file"):
        read_footer(tmp_path / "bad.parquet")


def test_page_indexes_are_left_out_rather_than_pointing_nowhere(tmp_path: Path) -> None:
    head = tmp_path / "head.parquet"
    pq.write_table(sample(0, 500), head, row_group_size=200, write_page_index=True)
    out = tmp_path / "out.parquet"
    splice([RowGroups(head, [2, 0])], out)  # any order
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == [*range(400, 500), *range(0, 200)]
