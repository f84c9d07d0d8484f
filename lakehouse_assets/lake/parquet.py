"""Tables as Parquet files, and the metadata a user looks for on each materialization."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

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


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")


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


def table_metadata(
    table: pa.Table,
    uri: str,
    size_bytes: int,
    preview_excluded: Collection[str] = (),
    descriptions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "dagster/row_count": table.num_rows,
        "dagster/column_schema": table_schema(table.schema, descriptions),
        "dagster/uri": dg.MetadataValue.path(uri),
        "size_bytes": size_bytes,
        "preview": dg.MetadataValue.md(preview_markdown(table, excluded=preview_excluded)),
    }
