"""Raw JSON rows → bronze: every field kept, every value as text, plus ingestion metadata.

Keeping values as text makes every snapshot's schema the same whatever the endpoint sends
(PHP strings today, numbers tomorrow), so no Parquet file can disagree on a column's type;
silver owns typing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lakehouse_assets.medallion.engine import (
    ROWS_PER_BATCH,
    connect,
    constant_text,
    constant_text_array,
    quote_identifier,
    quote_literal,
    release_memory,
    repeat,
)

if TYPE_CHECKING:
    import pyarrow as pa

#: JSON value types the columnar reader turns into exactly the text ``as_text`` gives.
TEXT_EXACT_TYPES = frozenset({"VARCHAR", "BIGINT", "UBIGINT", "BOOLEAN", '"NULL"', "NULL"})
#: Keeps DuckDB from reading date-like strings as dates: bronze keeps the text as sent.
NO_DATES = "dateformat='~%j~', timestampformat='~%j~'"


def as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def bronze_table(rows: list[dict[str, Any]], ingested_at: datetime, snapshot: str) -> pa.Table:
    """All columns in first-seen order (missing values null), then the ingestion columns."""
    import pyarrow as pa

    columns: dict[str, None] = {}
    for row in rows:
        for name in row:
            columns.setdefault(name, None)
    arrays = {
        name: pa.array([as_text(row.get(name)) for row in rows], type=pa.string())
        for name in columns
    }
    return _with_ingestion(pa.table(arrays), len(rows), ingested_at, snapshot)


def _with_ingestion(table: pa.Table, rows: int, ingested_at: datetime, snapshot: str) -> pa.Table:
    """``_ingested_at`` and ``_raw_snapshot`` (one snapshot's constant text, dictionary-encoded:
    a few bytes a row in memory and when read back, instead of the key's length every row)."""
    import pyarrow as pa

    moment = pa.scalar(ingested_at, type=pa.timestamp("us", tz="UTC"))
    table = table.append_column("_ingested_at", repeat(moment, rows))
    return table.append_column("_raw_snapshot", constant_text(snapshot, rows))


def _ingestion_columns(
    ingested_at: datetime, snapshot: str
) -> Callable[[pa.RecordBatch], pa.RecordBatch]:
    """What ``_with_ingestion`` adds to a table, for one record batch at a time."""
    import pyarrow as pa

    moment = pa.scalar(ingested_at, type=pa.timestamp("us", tz="UTC"))

    def add(batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = batch.num_rows
        return pa.RecordBatch.from_arrays(
            [*batch.columns, pa.repeat(moment, rows), constant_text_array(snapshot, rows)],
            names=[*batch.schema.names, "_ingested_at", "_raw_snapshot"],
        )

    return add


def write_bronze_file(
    path: Path, out: Path, ingested_at: datetime, snapshot: str, source: str, dataset: str
) -> int:
    """The JSON array in ``path`` as a bronze table, streamed into the Parquet file ``out``;
    returns its rows (what :func:`bronze_table` makes of the parsed rows).

    DuckDB hands the parsed columns over a batch at a time, so a snapshot of any size is
    converted in bounded memory (a few hundred MB for a 2.4 GB file). Files only the exact path
    can be trusted with (a key the sample did not show, a value whose text DuckDB would spell
    differently from ``as_text``, invalid JSON) are converted in memory by ``json`` and
    :func:`bronze_table`, whose errors name the dataset and page.
    """
    from lakehouse_assets.lake.parquet import write_parquet, write_parquet_batches

    release_memory()
    add = _ingestion_columns(ingested_at, snapshot)
    rows = _with_text_columns(
        Path(path), lambda reader: write_parquet_batches(reader, reader.schema, out, add)
    )
    if rows is None:
        table = _exact_bronze_table(Path(path), ingested_at, snapshot, source, dataset)
        write_parquet(table, out)
        rows = table.num_rows
    return rows


def _exact_bronze_table(
    path: Path, ingested_at: datetime, snapshot: str, source: str, dataset: str
) -> pa.Table:
    from lakehouse_assets.resources.json_api import parse_json_array

    rows = parse_json_array(path.read_bytes(), source, dataset)
    return bronze_table(rows, ingested_at, snapshot)


#: Rows sampled to find the columns; a key first seen later makes the reader fail, and the
#: file is read again with every row sampled (a second pass only for such files).
SAMPLE_ROWS = (2048, -1)


T = TypeVar("T")


def _with_text_columns(path: Path, consume: Callable[[pa.RecordBatchReader], T]) -> T | None:
    """``consume`` given every column as text, a batch at a time; None when only the exact
    path can be trusted with the file (``consume`` may then have been stopped part way)."""
    import duckdb

    connection = connect(large_strings=False)
    try:
        for sample in SAMPLE_ROWS:
            source = (
                f"read_json({quote_literal(path)}, format='array', records='true', "
                f"hive_partitioning=false, sample_size={sample}, {NO_DATES})"
            )
            described = connection.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()
            columns = [(str(row[0]), str(row[1])) for row in described]
            if not columns or [c for c, _ in columns] == ["json"]:
                return None  # not an array of objects, or empty: let the exact path say so
            if any(kind not in TEXT_EXACT_TYPES for _, kind in columns):
                return None
            select = ", ".join(
                f"CAST({quote_identifier(c)} AS VARCHAR) AS {quote_identifier(c)}"
                for c, _ in columns
            )
            try:
                query = connection.sql(f"SELECT {select} FROM {source}")
                return consume(query.to_arrow_reader(ROWS_PER_BATCH))
            # A value the reader cannot convert part way through the stream arrives as an
            # OSError from Arrow's reader, carrying DuckDB's message.
            except (duckdb.Error, OSError) as error:
                if "unknown key" not in str(error) or sample == SAMPLE_ROWS[-1]:
                    return None
        return None
    except duckdb.Error:
        return None
    finally:
        connection.close()
        release_memory()
