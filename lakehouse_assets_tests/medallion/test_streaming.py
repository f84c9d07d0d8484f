"""The streamed file paths (what the assets run) give exactly what the in-memory paths give.

Batches are made tiny here so every table spans many of them: rows that arrive after a greater
key are merged back across batch boundaries, too many of them fall back to one sort, and the
checks' counts still see every row.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.lake.parquet import write_parquet
from lakehouse_assets.medallion import silver as silver_columnar
from lakehouse_assets.medallion.bronze import bronze_table, write_bronze_file
from lakehouse_assets.sources.wordpress_api.datasets import DATASETS
from lakehouse_assets.sources.wordpress_api.statistics_postname import write_gold_file
from lakehouse_assets_tests.conftest import fixture_tables
from lakehouse_assets_tests.medallion.pandas_silver import build_silver, statistics_postname_table
from lakehouse_assets_tests.medallion.test_columnar import AT, SNAPSHOT, from_file, write
from lakehouse_assets_tests.medallion.test_silver import SCHEMA


@pytest.fixture(autouse=True)
def tiny_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (
        "medallion.silver",
        "medallion.bronze",
        "sources.wordpress_api.statistics_postname",
    ):
        monkeypatch.setattr(f"lakehouse_assets.{module}.ROWS_PER_BATCH", 7)


def rows_of(ids: list[int], duplicate_last: bool = False) -> list[dict[str, Any]]:
    rows = [
        {"id": str(i), "n": str(i % 5), "at": f"2024-01-{1 + i % 28:02d}", "label": f"r{i}"}
        for i in ids
    ]
    if duplicate_last:  # WP Statistics' way: the same row again, at the end
        rows.append(dict(rows[len(rows) // 2]))
    return rows


def silver_from_file(tmp_path: Path, rows: list[dict[str, Any]], schema: Any) -> tuple[Any, Any]:
    bronze = tmp_path / "bronze.parquet"
    write_parquet(bronze_table(rows, AT, SNAPSHOT), bronze)
    out = tmp_path / "silver.parquet"
    report = silver_columnar.write_silver_file(bronze, out, schema)
    return pq.read_table(out), report


ORDERS = {
    "sorted": list(range(1, 60)),
    "duplicate-at-end": list(range(1, 60)),
    "a-few-late": [*range(1, 20), *range(25, 60), 22, 21, 23, 24],
    "late-in-first-batch": [3, 1, 2, *range(4, 40)],
    "shuffled": random.Random(7).sample(range(1, 60), 59),
}


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("merge_limit", [200_000, 0], ids=["merge", "sort"])
def test_silver_file_equals_silver_in_memory_and_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str, merge_limit: int
) -> None:
    monkeypatch.setattr(silver_columnar, "MAX_LATE_ROWS", merge_limit)
    merges: list[int] = []
    merge = silver_columnar._merge

    def counted(batches: Any, late: pa.Table, key: str) -> Any:
        merges.append(late.num_rows)
        return merge(batches, late, key)

    monkeypatch.setattr(silver_columnar, "_merge", counted)
    rows = rows_of(ORDERS[order], duplicate_last=order == "duplicate-at-end")
    rows[5]["at"] = "0000-00-00"  # counted by the checks whichever way the row travels
    rows[-3]["n"] = "twelve"
    got, report = silver_from_file(tmp_path, rows, SCHEMA)
    expected, expected_report = build_silver(bronze_table(rows, AT, SNAPSHOT), SCHEMA)
    _, pandas_report = build_silver(bronze_table(rows, AT, SNAPSHOT).to_pandas(), SCHEMA)
    assert report == expected_report == pandas_report
    assert got.equals(expected)
    keys = got.column("id").to_pylist()
    assert keys == sorted(set(keys)) and report.rows_out == len(keys) == got.num_rows
    assert got.num_rows > 3 * 7  # many batches
    # late rows are merged back in, up to the limit (a duplicate at the end is late: its
    # earlier twin loses); beyond it everything is sorted in one go
    merged = merge_limit and order != "sorted"
    assert (merges and merges[0] > 0) if merged else not merges


def test_silver_file_of_the_fixture_site(tmp_path: Path) -> None:
    tables = fixture_tables()
    for schema in DATASETS:
        got, report = silver_from_file(tmp_path, tables[schema.name], schema)
        expected, expected_report = build_silver(
            bronze_table(tables[schema.name], AT, SNAPSHOT), schema
        )
        assert report == expected_report and got.equals(expected), schema.name


def test_bronze_file_equals_bronze_in_memory(tmp_path: Path) -> None:
    tables = fixture_tables()
    for rows in (tables["posts"], [{"a": "x"}] * 3000 + [{"a": "y", "late": "k"}], []):
        out = tmp_path / "bronze.parquet"
        rows_written = write_bronze_file(
            write(tmp_path, rows), out, AT, SNAPSHOT, "wordpress_api", "posts"
        )
        table = pq.read_table(out)
        assert rows_written == table.num_rows == len(rows)
        assert table.equals(from_file(tmp_path, rows).combine_chunks())
        assert table.num_rows == 0 or pq.ParquetFile(out).metadata.num_row_groups > 1


def test_gold_file_equals_gold_in_memory(tmp_path: Path) -> None:
    tables = fixture_tables()
    silver = {}
    for schema in DATASETS:
        silver[schema.name], _ = build_silver(
            bronze_table(tables[schema.name], AT, SNAPSHOT), schema
        )
        write_parquet(silver[schema.name], tmp_path / f"{schema.name}.parquet")
    out = tmp_path / "gold.parquet"
    rows = write_gold_file(tmp_path / "posts.parquet", tmp_path / "statistics_pages.parquet", out)
    expected = statistics_postname_table(silver["posts"], silver["statistics_pages"])
    assert rows == expected.num_rows > 7 and pq.read_table(out).equals(expected)


def test_empty_bronze_gives_an_empty_silver_file_with_the_schema(tmp_path: Path) -> None:
    got, report = silver_from_file(tmp_path, [], SCHEMA)
    assert got.num_rows == 0 and report.rows_out == 0
    assert {"id", "at_todate", "_raw_snapshot"} <= set(got.schema.names)
    assert isinstance(got.schema.field("_raw_snapshot").type, pa.DictionaryType)


def test_the_engine_spills_to_the_temporary_directory_not_the_working_directory() -> None:
    """DuckDB's default is ``.tmp`` under the working directory, which a deployment's
    container may not let us write: a sort or join beyond the memory limit would fail there."""
    import tempfile

    from lakehouse_assets.medallion.engine import connect, spill_directory

    connection = connect()
    try:
        setting = connection.sql("SELECT current_setting('temp_directory')").fetchall()[0][0]
    finally:
        connection.close()
    assert Path(setting) == spill_directory()
    assert spill_directory().parent == Path(tempfile.gettempdir())
