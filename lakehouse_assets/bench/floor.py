"""The floor: only the unavoidable work, as fast as a plain script can stream it.

What any pipeline over this source must do, without validation, checks, metadata, atomic
publishing or orchestration, written as a skilled engineer would with ``requests``, DuckDB and
pyarrow, so that ``ours / floor`` measures what the framework costs at any scale:

- download: pages fetched on worker threads a few ahead of the writer, bodies read in 1 MB
  chunks, written in order into one raw JSON array per table;
- bronze: DuckDB parses the array straight into Arrow text columns, a batch at a time, on a
  worker thread while the previous batch is compressed into Parquet;
- silver: one DuckDB query per table over the bronze Parquet (casts, date parts, one row per
  key: only keys that repeat are ranked; rows stay in arrival order, since gold sorts anyway),
  streamed into Parquet the same way;
- gold: DuckDB joins and sorts only the narrow statistics columns (spilling beyond its memory
  limit); the post columns and date parts are attached per batch in pyarrow.

Nothing holds a whole table, so memory stays bounded at any scale.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_assets.bench.measure import Stages
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.engine import (
    ROWS_PER_BATCH,
    connect,
    quote_identifier,
    quote_literal,
)
from lakehouse_assets.sources.wordpress_api.statistics_postname import GOLD_COLUMNS

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

CHUNK = 1 << 20
#: Pages in flight: the fetching threads keep this many ahead of the writer.
AHEAD = 4
FETCHERS = 2
#: Keeps DuckDB from reading date-like strings as dates: bronze keeps the text as sent.
NO_DATES = "dateformat='~%j~', timestampformat='~%j~'"
ROW = "__row"


def _q(name: str) -> str:
    return quote_identifier(name)


def download(url: str, path: Path, workers: int = FETCHERS) -> int:
    """Every WordPress page of ``url`` into one JSON array file; returns the bytes written."""
    import requests

    local = threading.local()

    def fetch(page: int) -> tuple[bytes, dict[str, str]]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        params = {"page": page} if page > 1 else None
        with session.get(url, params=params, timeout=60, stream=True) as response:
            response.raise_for_status()
            body = b"".join(response.iter_content(CHUNK))
            return body, dict(response.headers)

    with ThreadPoolExecutor(workers) as pool, open(path, "wb") as out:
        first, headers = fetch(1)
        pages = int(headers.get("X-WP-TotalPages") or 1)
        if pages == 1:
            out.write(first)
            return out.tell()
        out.write(b"[")
        pending: dict[int, Future[tuple[bytes, dict[str, str]]]] = {}
        wrote = False
        for page in range(1, pages + 1):
            for ahead in range(page + 1, min(page + AHEAD, pages) + 1):
                if ahead not in pending:
                    pending[ahead] = pool.submit(fetch, ahead)
            body = first if page == 1 else pending.pop(page).result()[0]
            view = memoryview(body)[body.index(b"[") + 1 : body.rindex(b"]")]
            if len(view) > 16 or bytes(view).strip():
                if wrote:
                    out.write(b",")
                out.write(view)
                wrote = True
        out.write(b"]")
        return out.tell()


def _ahead(batches: Iterator[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """``batches`` produced on a worker thread, ``depth`` ahead of the consumer."""
    done = object()
    slots: queue.Queue[Any] = queue.Queue(depth)

    def produce() -> None:
        try:
            for batch in batches:
                slots.put(batch)
        except BaseException as error:  # handed to the consumer
            slots.put(error)
        slots.put(done)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    while (item := slots.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


def write_parquet(
    reader: pa.RecordBatchReader,
    path: Path,
    transform: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None,
    schema: pa.Schema | None = None,
) -> int:
    """Stream ``reader`` into one Parquet file (a row group per batch); returns the rows."""
    import pyarrow.parquet as pq

    batches: Iterator[pa.RecordBatch] = iter(reader)
    if transform is not None:
        batches = map(transform, batches)
    rows = 0
    with pq.ParquetWriter(path, schema or reader.schema, compression="zstd") as writer:
        for batch in _ahead(batches):  # the next batch made while this one is compressed
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def bronze_sql(connection: duckdb.DuckDBPyConnection, raw: Path) -> str:
    source = f"read_json({quote_literal(raw)}, format='array', sample_size=2048, {NO_DATES})"
    names = [r[0] for r in connection.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    text = ", ".join(f"CAST({_q(c)} AS VARCHAR) AS {_q(c)}" for c in names)
    return f"SELECT {text} FROM {source}"


def silver_sql(schema: DatasetSchema, columns: list[str], bronze: Path) -> str:
    """Casts and date parts for every row; among rows sharing a key, the greatest by
    ``latest_by`` and then the last wins (only keys that repeat are ranked)."""
    parquet = f"read_parquet({quote_literal(bronze)}, file_row_number=true)"
    typed = []
    parts = []
    for column in columns:
        name = _q(column)
        if column in schema.integers:
            typed.append(f"TRY_CAST({name} AS BIGINT) AS {name}")
        elif column in schema.datetimes:
            typed.append(f"TRY_CAST({name} AS TIMESTAMP) AS {name}")
            parts += [
                f"CAST({name} AS DATE) AS {_q(column + '_todate')}",
                f"year({name}) AS {_q(column + '_year')}",
                f"month({name}) AS {_q(column + '_month')}",
                f"day({name}) AS {_q(column + '_day')}",
            ]
        else:
            typed.append(name)
    select = f"SELECT file_row_number AS {ROW}, {', '.join(typed)} FROM {parquet}"
    outer = ", ".join([*(_q(c) for c in columns), *parts])
    if not schema.key:
        return f"SELECT {outer} FROM ({select})"
    key = ", ".join(_q(c) for c in schema.key)
    key_typed = ", ".join(t for t, c in zip(typed, columns, strict=True) if c in schema.key)
    newest = ", ".join([f"{_q(c)} DESC NULLS LAST" for c in schema.latest_by] + [f"{ROW} DESC"])
    repeated = (
        f"SELECT {key} FROM (SELECT {key_typed} FROM {parquet}) GROUP BY ALL HAVING count(*) > 1"
    )
    losers = (
        f"SELECT {ROW} FROM (SELECT {ROW}, row_number() OVER (PARTITION BY {key} "
        f"ORDER BY {newest}) AS rank FROM ({select}) SEMI JOIN ({repeated}) USING ({key})) "
        "WHERE rank > 1"
    )
    return f"SELECT {outer} FROM ({select}) WHERE {ROW} NOT IN ({losers})"


#: Gold's sort runs on these statistics columns only (the rest is looked up per batch).
GOLD_SORTED = """
SELECT s.id AS post_ID, s.date AS statistics_date, s.page_id AS statistics_id,
       s.count AS statistics_count
FROM read_parquet({statistics}) s
WHERE s.id IN (SELECT "ID" FROM read_parquet({posts}) WHERE post_type = 'post')
ORDER BY post_ID ASC NULLS LAST, statistics_date ASC NULLS LAST, statistics_id ASC NULLS LAST
"""
#: The posts columns gold carries besides the id, from the contract's one list.
POST_COLUMNS = tuple(
    name for name, (table, _) in GOLD_COLUMNS.items() if table == "posts" and name != "post_ID"
)


def write_gold(
    connection: duckdb.DuckDBPyConnection, posts: Path, statistics: Path, out: Path
) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from lakehouse_assets.sources.wordpress_api.statistics_postname import gold_schema

    schema = gold_schema()
    table = pq.read_table(posts, columns=["ID", *POST_COLUMNS])
    table = table.filter(pc.equal(table["post_type"], "post")).combine_chunks()
    ids = table["ID"]
    post = {c: table[c].cast(schema.field(c).type) for c in POST_COLUMNS}

    def finish(batch: pa.RecordBatch) -> pa.RecordBatch:
        at = pc.index_in(batch["post_ID"], value_set=ids)
        date = batch["statistics_date"].cast(pa.timestamp("us"))
        columns = {
            "post_ID": batch["post_ID"],
            **{c: post[c].take(at).combine_chunks() for c in POST_COLUMNS},
            "statistics_id": batch["statistics_id"],
            "statistics_date": date,
            "statistics_count": batch["statistics_count"],
            "statistics_date_year": pc.year(date),
            "statistics_date_month": pc.month(date),
            "statistics_date_day": pc.day(date),
        }
        return pa.RecordBatch.from_arrays([columns[n] for n in schema.names], schema=schema)

    query = GOLD_SORTED.format(statistics=quote_literal(statistics), posts=quote_literal(posts))
    reader = connection.sql(query).to_arrow_reader(ROWS_PER_BATCH)
    return write_parquet(reader, out, finish, schema)


def run_floor(
    urls: dict[str, str], schemas: dict[str, DatasetSchema], out: Path, stages: Stages
) -> dict[str, int]:
    """Raw files, bronze/silver/gold Parquet under ``out``; returns rows per table."""
    import pyarrow.parquet as pq

    for layer in ("raw", "bronze", "silver", "gold"):
        (out / layer).mkdir(parents=True, exist_ok=True)
    path = {
        (layer, name): out / layer / f"{name}.{'json' if layer == 'raw' else 'parquet'}"
        for layer in ("raw", "bronze", "silver")
        for name in urls
    }
    rows: dict[str, int] = {}
    connection = connect(large_strings=False)
    try:
        with stages.stage("download"):
            for name, url in urls.items():
                download(url, path["raw", name])
        with stages.stage("bronze"):
            for name in urls:
                query = bronze_sql(connection, path["raw", name])
                write_parquet(
                    connection.sql(query).to_arrow_reader(ROWS_PER_BATCH), path["bronze", name]
                )
        with stages.stage("silver"):
            for name in urls:
                bronze = path["bronze", name]
                query = silver_sql(schemas[name], pq.read_schema(bronze).names, bronze)
                reader = connection.sql(query).to_arrow_reader(ROWS_PER_BATCH)
                rows[name] = write_parquet(reader, path["silver", name])
        with stages.stage("gold"):
            write_gold(
                connection,
                path["silver", "posts"],
                path["silver", "statistics_pages"],
                out / "gold" / "statistics_postname.parquet",
            )
    finally:
        connection.close()
    return rows
