"""Silver → gold ``statistics_postname``: blog posts joined with their page-view statistics.

Posts whose ``post_type`` is exactly "post", inner-joined on ``posts.ID = statistics.id``,
sorted by post, statistics date and statistics id, in the contract's column order and types
(integers int64, dates timestamps, text). One DuckDB query over the two Arrow tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse_assets.transforms.engine import connect, quote_identifier, release_memory

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


def statistics_postname_table(posts: pa.Table, statistics: pa.Table) -> pa.Table:
    """The gold table from silver posts and statistics_pages (Arrow in, Arrow out).

    The engine joins and orders only row numbers (narrow); the wide columns are then gathered
    once, already in order, from the inputs: no wide intermediate result, no second copy.
    """
    import numpy as np
    import pyarrow as pa

    release_memory()  # what the previous step freed, before this one allocates
    order = ", ".join(
        f"{alias}.{quote_identifier(column)} ASC NULLS LAST"
        for alias, column in (("p", "ID"), ("s", "date"), ("s", "page_id"))
    )
    connection = connect(large_strings=False)
    try:
        connection.register(
            "posts",
            posts.select(["ID", "post_type"]).append_column(
                "__row", pa.array(np.arange(posts.num_rows, dtype=np.int64))
            ),
        )
        connection.register(
            "statistics",
            statistics.select(["id", "date", "page_id"]).append_column(
                "__row", pa.array(np.arange(statistics.num_rows, dtype=np.int64))
            ),
        )
        pairs = connection.sql(
            "SELECT p.__row AS post_row, s.__row AS statistics_row FROM posts p JOIN statistics s "
            f'ON p."ID" = s."id" WHERE p.post_type = \'post\' ORDER BY {order}'
        ).to_arrow_table()
    finally:
        connection.close()
    rows = {"posts": pairs.column("post_row"), "statistics": pairs.column("statistics_row")}
    sources = {"posts": posts, "statistics": statistics}
    schema = gold_schema()
    columns = [
        sources[table].column(column).take(rows[table]).cast(schema.field(name).type)
        for name, (table, column) in GOLD_COLUMNS.items()
    ]
    del pairs, rows
    release_memory()
    return pa.Table.from_arrays(columns, schema=schema)
