"""Tables as Parquet files, and the metadata a user looks for on each materialization."""

from __future__ import annotations

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


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression=COMPRESSION)


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
