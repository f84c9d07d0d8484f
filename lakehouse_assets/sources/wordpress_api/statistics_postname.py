"""Silver → gold ``statistics_postname``: blog posts joined with their page-view statistics.

Posts whose ``post_type`` is exactly "post", inner-joined on ``posts.ID = statistics.id``,
sorted by post, statistics date and statistics id, in the contract's column order and types
(integers int64, dates timestamps, text). One DuckDB query over the two silver tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse_assets.medallion.engine import (
    ROWS_PER_BATCH,
    connect,
    quote_identifier,
    quote_literal,
    release_memory,
)

if TYPE_CHECKING:
    import pyarrow as pa

#: gold column → (source table, source column); order is the contract's.
GOLD_COLUMNS: dict[str, tuple[str, str]] = {
    "post_ID": ("posts", "ID"),
    "post_title": ("posts", "post_title"),
    "post_status": ("posts", "post_status"),
    "post_parent": ("posts", "post_parent"),
    "post_type": ("posts", "post_type"),
    "post_date": ("posts", "post_date"),
    "post_date_year": ("posts", "post_date_year"),
    "post_date_month": ("posts", "post_date_month"),
    "post_date_day": ("posts", "post_date_day"),
    "statistics_id": ("statistics", "page_id"),
    "statistics_date": ("statistics", "date"),
    "statistics_count": ("statistics", "count"),
    "statistics_date_year": ("statistics", "date_year"),
    "statistics_date_month": ("statistics", "date_month"),
    "statistics_date_day": ("statistics", "date_day"),
}
TIMESTAMP_COLUMNS = ("post_date", "statistics_date")
TEXT_COLUMNS = ("post_title", "post_status", "post_type")
SORT_ORDER = ("post_ID", "statistics_date", "statistics_id")


def gold_schema() -> pa.Schema:
    import pyarrow as pa

    def kind(name: str) -> pa.DataType:
        if name in TIMESTAMP_COLUMNS:
            return pa.timestamp("us")
        return pa.string() if name in TEXT_COLUMNS else pa.int64()

    return pa.schema([(name, kind(name)) for name in GOLD_COLUMNS])


def write_gold_file(posts: Path, statistics: Path, out: Path) -> int:
    """The gold table from the silver Parquet files, streamed into ``out``; returns its rows.

    DuckDB reads only the columns gold uses, joins, sorts (spilling to disk beyond its memory
    limit) and hands the result over a batch at a time: bounded memory at any size.
    """
    from lakehouse_assets.lake.parquet import write_parquet_batches

    release_memory()  # what the previous step freed, before this one allocates
    connection = connect(large_strings=False)
    try:
        query = gold_query(
            f"read_parquet({quote_literal(posts)})", f"read_parquet({quote_literal(statistics)})"
        )
        reader = connection.sql(query).to_arrow_reader(ROWS_PER_BATCH)
        schema = gold_schema()
        return write_parquet_batches(reader, reader.schema, out, lambda b: b.cast(schema))
    finally:
        connection.close()
        release_memory()


def gold_query(posts: str, statistics: str) -> str:
    """The gold SELECT over the two silver relations (DuckDB SQL; the other engines run it
    transpiled)."""
    alias = {"posts": "p", "statistics": "s"}
    columns = ", ".join(
        f"{alias[table]}.{quote_identifier(column)} AS {quote_identifier(name)}"
        for name, (table, column) in GOLD_COLUMNS.items()
    )
    order = ", ".join(f"{quote_identifier(c)} ASC NULLS LAST" for c in SORT_ORDER)
    return (
        f'SELECT {columns} FROM {posts} p JOIN {statistics} s ON p."ID" = s."id" '
        f"WHERE p.post_type = 'post' ORDER BY {order}"
    )
