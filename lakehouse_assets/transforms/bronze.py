"""Raw JSON rows → bronze: every field kept, every value as text, plus ingestion metadata.

Keeping values as text makes every snapshot's schema the same whatever the endpoint sends
(PHP strings today, numbers tomorrow), so no Parquet file can disagree on a column's type;
silver owns typing.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_assets.transforms.engine import (
    connect,
    constant_text,
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


def bronze_table_from_file(
    path: Path, ingested_at: datetime, snapshot: str, source: str, dataset: str
) -> pa.Table:
    """The JSON array in ``path`` as a bronze table: what ``bronze_table`` makes of its rows.

    DuckDB reads the file into Arrow columns directly (no Python object per value, about 5×
    faster than ``json.loads`` and a fraction of its memory). Columns come out in first-seen
    order; a key the sample did not show, a value whose text DuckDB would spell differently
    from ``as_text`` (floats, nested values), an element that is not an object, or invalid JSON
    sends the file down the exact path, ``json`` plus ``bronze_table``, whose errors name the
    dataset and page (``SourceError``).
    """
    release_memory()  # what the previous step freed, before this one allocates
    table = _read_text_columns(Path(path))
    if table is None:
        from lakehouse_assets.resources.json_api import parse_json_array

        rows = parse_json_array(Path(path).read_bytes(), source, dataset)
        return bronze_table(rows, ingested_at, snapshot)
    return _with_ingestion(table, table.num_rows, ingested_at, snapshot)


#: Rows sampled to find the columns; a key first seen later makes the reader fail, and the
#: file is read again with every row sampled (a second pass only for such files).
SAMPLE_ROWS = (2048, -1)


def _read_text_columns(path: Path) -> pa.Table | None:
    """Every column as text, or None when only the exact path can be trusted with the file."""
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
                return connection.sql(f"SELECT {select} FROM {source}").to_arrow_table()
            except duckdb.Error as error:
                if "unknown key" not in str(error) or sample == SAMPLE_ROWS[-1]:
                    return None
        return None
    except duckdb.Error:
        return None
    finally:
        connection.close()
        release_memory()
