"""Tables as Parquet files, and the metadata a user looks for on each materialization."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.read_ahead import read_ahead

PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 40


def to_arrow(obj: Any) -> pa.Table:
    """Accept what assets return (pandas DataFrame or Arrow table) as an Arrow table."""
    if isinstance(obj, pa.Table):
        return obj
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return pa.Table.from_pandas(obj, preserve_index=False)
    raise TypeError(f"cannot store {type(obj).__name__} as a table: return a DataFrame or Table")


#: Parquet settings of every table in the lake.
COMPRESSION = "zstd"


#: Arrow integer type → the pandas nullable dtype a column of it reads as when it holds nulls.
NULLABLE_PANDAS_INTEGERS = {
    "int8": "Int8",
    "int16": "Int16",
    "int32": "Int32",
    "int64": "Int64",
    "uint8": "UInt8",
    "uint16": "UInt16",
    "uint32": "UInt32",
    "uint64": "UInt64",
    "bool": "boolean",
}


def with_nullable_integers(schema: pa.Schema, columns: Collection[str]) -> pa.Schema:
    """``schema`` whose pandas metadata makes ``columns`` (integers, booleans) read as pandas'
    nullable dtypes (``Int64``, ``boolean``), never as float64 or object with NaN."""
    if not columns:
        return schema
    metadata = dict(schema.metadata or {})
    raw = metadata.get(b"pandas")
    pandas_meta: dict[str, Any] = (
        json.loads(raw) if raw else {"index_columns": [], "column_indexes": [], "columns": []}
    )
    entries = {c.get("field_name", c.get("name")): c for c in pandas_meta.get("columns", [])}
    for name in columns:
        kind = str(schema.field(name).type)
        entry = entries.get(name)
        if entry is None:
            entry = {"name": name, "field_name": name, "metadata": None}
            pandas_meta.setdefault("columns", []).append(entry)
        entry["pandas_type"] = kind
        entry["numpy_type"] = NULLABLE_PANDAS_INTEGERS[kind]
    metadata[b"pandas"] = json.dumps(pandas_meta).encode()
    return schema.with_metadata(metadata)


def mark_nullable(table: pa.Table, columns: Collection[str]) -> pa.Table:
    """``table`` marked so ``columns`` always read as nullable dtypes, nulls or not (for a
    contract that names ``Int64``); other integer columns holding nulls are marked when the
    table is written."""
    return table.replace_schema_metadata(with_nullable_integers(table.schema, columns).metadata)


def _integers_with_nulls(schema: pa.Schema, null_counts: Mapping[str, int]) -> list[str]:
    return [
        f.name
        for f in schema
        if str(f.type) in NULLABLE_PANDAS_INTEGERS and null_counts.get(f.name, 0) > 0
    ]


def write_parquet(table: pa.Table, path: Path) -> None:
    nulls = {name: table.column(name).null_count for name in table.schema.names}
    marked = with_nullable_integers(table.schema, _integers_with_nulls(table.schema, nulls))
    pq.write_table(table.replace_schema_metadata(marked.metadata), path, compression=COMPRESSION)


def _file_null_counts(path: Path) -> dict[str, int]:
    metadata = pq.ParquetFile(path).metadata
    counts: dict[str, int] = {}
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            stats = column.statistics
            nulls = stats.null_count if stats is not None and stats.has_null_count else 1
            name = column.path_in_schema
            counts[name] = counts.get(name, 0) + nulls
    return counts


def mark_nullable_integers(path: Path) -> None:
    """Rewrite the Parquet file at ``path`` (a batch at a time) if integer columns hold nulls
    its schema does not yet mark, so pandas reads them as ``Int64`` (rare: typically none)."""
    parquet = pq.ParquetFile(path)
    schema = parquet.schema_arrow
    columns = _integers_with_nulls(schema, _file_null_counts(path))
    if not set(columns) - marked_nullable(schema):
        return
    target = with_nullable_integers(schema, columns)
    temporary = path.with_name(f"{path.name}.marked")
    with pq.ParquetWriter(temporary, target, compression=COMPRESSION) as writer:
        for batch in parquet.iter_batches():
            writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=target))
    temporary.replace(path)


def write_parquet_batches(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    path: Path,
    transform: Callable[[pa.RecordBatch], pa.RecordBatch] = lambda batch: batch,
) -> int:
    """Stream record batches into one Parquet file (a row group per batch); returns the rows.

    Only one batch is in memory at a time, so a table of any size is written in bounded memory.
    ``transform`` is applied to every batch (and to an empty one, for the file's schema).
    """
    empty = transform(pa.RecordBatch.from_pylist([], schema=schema))
    rows = 0
    with pq.ParquetWriter(path, empty.schema, compression=COMPRESSION) as writer:
        for out in read_ahead(transform(batch) for batch in batches):
            if out.num_rows:
                writer.write_batch(out)
                rows += out.num_rows
        if rows == 0:
            writer.write_batch(empty)
    mark_nullable_integers(path)
    return rows


#: Asset metadata key: column name → description, shown with each materialization's schema.
COLUMN_DESCRIPTIONS_METADATA = "lakehouse/column_descriptions"


def table_schema(
    schema: pa.Schema, descriptions: Mapping[str, str] | None = None
) -> dg.TableSchema:
    described = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=f.name, type=str(f.type), description=described.get(f.name))
            for f in schema
        ]
    )


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ").replace("|", "\\|")
    if len(text) > PREVIEW_CELL_CHARS:
        text = text[: PREVIEW_CELL_CHARS - 1] + "…"
    return text


def preview_markdown(
    table: pa.Table, rows: int = PREVIEW_ROWS, excluded: Collection[str] = ()
) -> str:
    """A small Markdown table of the first rows (cells shortened, ``excluded`` columns left out)."""
    names = [n for n in table.schema.names if n not in excluded]
    head = table.select(names).slice(0, rows).to_pylist()
    lines = ["| " + " | ".join(_cell(n) for n in names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(_cell(r[n]) for n in names) + " |" for r in head]
    return "\n".join(lines)


def file_head(parquet: pq.ParquetFile, rows: int = PREVIEW_ROWS) -> pa.Table:
    """The first ``rows`` rows of a Parquet file, reading no more than its first row group."""
    for batch in parquet.iter_batches(batch_size=rows):
        return pa.Table.from_batches([batch])
    return parquet.schema_arrow.empty_table()


def file_metadata(
    parquet: pq.ParquetFile,
    uri: str,
    size_bytes: int,
    preview_excluded: Collection[str] = (),
    descriptions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Row count, schema and preview of a Parquet file, from its footer and first rows only."""
    return {
        "dagster/row_count": parquet.metadata.num_rows,
        "dagster/column_schema": table_schema(parquet.schema_arrow, descriptions),
        "dagster/uri": dg.MetadataValue.path(uri),
        "size_bytes": size_bytes,
        "preview": dg.MetadataValue.md(
            preview_markdown(file_head(parquet), excluded=preview_excluded)
        ),
    }


def integers_with_nulls(path: Path) -> list[str]:
    """Integer (and boolean) columns of a Parquet file that hold nulls somewhere."""
    return _integers_with_nulls(pq.read_schema(path), _file_null_counts(path))


def marked_nullable(schema: pa.Schema) -> set[str]:
    """Columns whose pandas metadata makes them read as a pandas nullable dtype."""
    raw = (schema.metadata or {}).get(b"pandas")
    if not raw:
        return set()
    return {
        c.get("field_name")
        for c in json.loads(raw).get("columns", [])
        if str(c.get("numpy_type", "")).startswith(("Int", "UInt", "boolean"))
    }
