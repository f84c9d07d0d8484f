"""The floor script's pieces: the download keeps every row of every page in order, and silver
keeps one row per key (the greatest by ``latest_by``, then the last), as the pipeline does."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.bench.floor import download, silver_sql
from lakehouse_assets.bench.synthetic import SiteGenerator
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.engine import connect
from lakehouse_assets.sources.wordpress_api.sample_site import serve


def test_download_writes_every_page_in_order_as_one_array(tmp_path: Path) -> None:
    site = SiteGenerator(posts=50, statistics_rows=2345, page_size=100, days=30).build()
    table = site.table("statistics_pages")
    expected = [row for page in table.pages for row in json.loads(page)]
    with serve(site) as base_url:
        url = site.endpoint_urls(base_url)[1]
        written = download(url, tmp_path / "raw.json", workers=3)
    assert written == (tmp_path / "raw.json").stat().st_size
    assert json.loads((tmp_path / "raw.json").read_bytes()) == expected


def test_silver_keeps_one_row_per_key_the_latest_then_the_last(tmp_path: Path) -> None:
    schema = DatasetSchema.of(
        name="things",
        description="test rows",
        key=("id",),
        integers=("id", "n"),
        datetimes=("modified",),
        strings=("label",),
        latest_by=("modified",),
    )
    bronze = pa.table(
        {
            "id": ["1", "2", "2", "3", "3", "3", "4"],
            "n": ["10", "20", "21", "30", "31", "x", "40"],
            "modified": [
                "2024-01-01",
                "2024-03-01",
                "2024-02-01",
                None,
                "2024-01-01",
                "2024-01-01",
                "0000-00-00 00:00:00",
            ],
            "label": ["a", "b", "c", "d", "e", "f", "g"],
        }
    )
    pq.write_table(bronze, tmp_path / "bronze.parquet")
    connection = connect(large_strings=False)
    query = silver_sql(schema, bronze.column_names, tmp_path / "bronze.parquet")
    silver = connection.sql(f"SELECT * FROM ({query}) ORDER BY id").to_arrow_table()
    connection.close()
    assert silver.column("label").to_pylist() == ["a", "b", "f", "g"]
    assert silver.column("n").to_pylist() == [10, 20, None, 40]
    assert silver.column("modified_year").to_pylist() == [2024, 2024, 2024, None]
