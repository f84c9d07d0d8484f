"""The columnar paths (DuckDB over Arrow) give exactly what the row-by-row paths give.

Bronze from a file equals ``bronze_table`` of ``json.loads``; silver from an Arrow table equals
the pandas path (values, types and report); gold equals the pandas join. Anything the fast reader
cannot spell exactly (floats, nested values, keys it did not sample) or any bad input goes down
the exact path, so its errors still name the dataset and page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakehouse_assets.errors import SourceError
from lakehouse_assets.medallion.bronze import bronze_table
from lakehouse_assets.sources.wordpress_api.datasets import DATASETS
from lakehouse_assets_tests.conftest import fixture_tables
from lakehouse_assets_tests.medallion.pandas_silver import (
    bronze_table_from_file,
    build_silver,
    silver_arrow,
    statistics_postname_table,
)
from lakehouse_assets_tests.medallion.test_silver import SCHEMA

AT = datetime(2026, 10, 31, 7, 0, tzinfo=UTC)
SNAPSHOT = "wordpress_api/posts/ingest_date=2026-10-31/posts_20261031T070000000000Z_abc.json"


def write(directory: Path, rows: Any) -> Path:
    # A directory named like a Hive partition, as raw snapshot keys are (ingest_date=…).
    path = directory / "ingest_date=2026-10-31" / "snapshot.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rows if isinstance(rows, bytes) else json.dumps(rows).encode())
    return path


def from_file(directory: Path, rows: Any) -> pa.Table:
    return bronze_table_from_file(write(directory, rows), AT, SNAPSHOT, "wordpress_api", "posts")


@pytest.mark.parametrize(
    "rows",
    [
        fixture_tables()["posts"],
        fixture_tables()["statistics_pages"],
        [],
        [{"a": "1", "b": None}, {"c": "late", "a": "2"}],
        [{"a": 1, "b": True, "c": None, "d": "2024-01-01"}],
        [{"a": 1.5, "b": {"z": 1, "y": [1, 2]}}],  # the exact path spells these
        [{"a": "x"}] * 25_000 + [{"a": "y", "beyond_the_sample": "kept"}],
    ],
    ids=["posts", "statistics", "empty", "missing", "scalars", "nested", "late-key"],
)
def test_bronze_from_file_equals_bronze_of_parsed_rows(
    tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    assert from_file(tmp_path, rows).equals(bronze_table(rows, AT, SNAPSHOT))


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'[{"ID": "1"}, 3]', "page 1 item 1 is a int, not an object"),
        (b'{"ID": "1"}', "page 1 is a JSON dict, not an array"),
        (b'[{"ID": "1", "post_title": "trunc', "page 1 is not valid JSON at line 1"),
        (b"<html>Database error</html>", "(looks like an HTML page)"),
    ],
)
def test_bad_files_fail_naming_dataset_and_page(tmp_path: Path, body: bytes, problem: str) -> None:
    with pytest.raises(SourceError) as raised:
        from_file(tmp_path, body)
    assert str(raised.value).startswith("wordpress_api/posts: ") and problem in str(raised.value)


SILVER_CASES = [
    [{"id": " 7 ", "n": "12.0", "at": "2024-03-05 06:07:08", "label": "Café", "extra": "e"}],
    [
        {"id": "1", "n": "1", "at": "0000-00-00 00:00:00", "label": "a"},
        {"id": "2", "n": "1", "at": "0000-00-00", "label": "b"},
        {"id": "3", "n": "1", "at": "2024-02-30 10:00:00", "label": "c"},
        {"id": "4", "n": "+1", "at": "2024-02-29T10:11", "label": "\u00a0d "},
        {"id": "5", "n": "1", "at": "", "label": "e"},
    ],
    [
        {"id": "1", "n": "twelve", "at": "yesterday", "label": "a"},
        {"id": "2", "n": "1.5", "at": "05/03/2024", "label": "b"},
        {"id": "3", "n": "x", "at": "T", "label": "c"},
        {"id": "4", "n": "twelve", "at": "T", "label": "d"},
    ],
    [
        {"id": "1", "n": "1", "at": "2024-01-01", "label": "old"},
        {"id": "1", "n": "1", "at": "2024-01-03", "label": "newest"},
        {"id": "1", "n": "1", "at": "2024-01-02", "label": "middle"},
        {"id": "2", "n": "2", "at": "2024-01-01", "label": "twin"},
        {"id": "2", "n": "2", "at": "2024-01-01", "label": "twin"},
        {"id": "3", "n": "1", "at": None, "label": "x"},
        {"id": "3", "n": "1", "at": "2020-01-01", "label": "y"},
    ],
    [
        {"id": "", "n": "1", "at": "2024-01-01", "label": "q"},
        {"id": None, "n": "2", "at": "2024-01-02", "label": "q"},
        {"id": "9", "n": "3", "at": "2024-01-01", "label": "r"},
    ],
    [{"id": "", "n": "1", "at": "2024-01-01"}],
]


def silver_both_ways(rows: list[dict[str, Any]], schema: Any) -> tuple[pa.Table, pa.Table]:
    bronze = bronze_table(rows, AT, SNAPSHOT)
    frame, pandas_report = build_silver(bronze.to_pandas(), schema)
    table, arrow_report = build_silver(bronze, schema)
    assert arrow_report == pandas_report
    return silver_arrow(frame, schema).replace_schema_metadata(None), silver_arrow(table, schema)


@pytest.mark.parametrize("rows", SILVER_CASES + [list(reversed(c)) for c in SILVER_CASES])
def test_silver_on_arrow_equals_silver_on_pandas(rows: list[dict[str, Any]]) -> None:
    expected, got = silver_both_ways(rows, SCHEMA)
    for name in expected.schema.names:  # pandas types an all-null date column by its own unit
        if expected.column(name).null_count == len(expected):
            expected = expected.set_column(
                expected.schema.get_field_index(name),
                name,
                expected.column(name).cast(got.schema.field(name).type),
            )
    assert got.equals(expected)


def test_silver_and_gold_of_the_fixture_site_agree_with_pandas_and_the_contract() -> None:
    from lakehouse_assets_tests.sources.wordpress_api.test_pipeline import expected_gold

    tables = fixture_tables()
    silver = {}
    for schema in DATASETS:
        expected, got = silver_both_ways(tables[schema.name], schema)
        assert got.equals(expected), schema.name
        silver[schema.name] = got
    gold = statistics_postname_table(silver["posts"], silver["statistics_pages"])
    assert gold.num_rows > 100 and gold.to_pylist() == expected_gold(tables)


def test_the_columnar_reader_takes_raw_snapshot_paths(tmp_path: Path) -> None:
    """Regression: DuckDB read ``ingest_date=…`` in the path as a Hive partition column, and
    every real snapshot fell back to the slow path."""
    from lakehouse_assets.medallion.bronze import _with_text_columns

    path = write(tmp_path, fixture_tables()["posts"])
    table = _with_text_columns(path, lambda reader: reader.read_all())
    assert table is not None and "ingest_date" not in table.schema.names
