"""A landed file (JSON array, newline-delimited JSON, or CSV) → a typed, deduplicated table.

For sources whose files carry typed records (JSON numbers, booleans) or text (CSV) in declared
columns. Text is typed by the platform's rules (:mod:`lakehouse_assets.medallion.text_rules`),
so "12.0" is an integer here as in every silver table. Pure functions: a file that breaks its
dataset's declared columns raises BadFileError with a reason a person can act on (row, column,
what was expected, what was found); nothing is written.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa

from lakehouse_assets.errors import BadFileError
from lakehouse_assets.medallion.datasets import Column, DatasetSchema
from lakehouse_assets.medallion.text_rules import (
    INT64_MAX,
    INT64_MIN,
    bool_from_text,
    date_from_text,
    float_from_text,
    integer_from_text,
    timestamp_from_text,
)

PROCESSED_AT = "processed_at"
SOURCE_FILE = "source_file"
INGESTION_COLUMNS = (PROCESSED_AT, SOURCE_FILE)
FORMATS = {".json": "json", ".jsonl": "ndjson", ".ndjson": "ndjson", ".csv": "csv"}

ARROW_TYPES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "datetime": pa.timestamp("us"),
    "date": pa.date32(),
}


@dataclass(frozen=True)
class TypedFile:
    table: pa.Table
    file_format: str
    rows_in: int
    duplicate_rows_removed: int
    superseded_rows_removed: int
    ignored_columns: tuple[str, ...]


def arrow_schema(dataset: DatasetSchema) -> pa.Schema:
    """The bronze table's schema: declared columns, then the ingestion columns."""
    fields = [pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in dataset.columns]
    fields.append(pa.field(PROCESSED_AT, pa.timestamp("us", tz="UTC"), nullable=False))
    fields.append(pa.field(SOURCE_FILE, pa.string(), nullable=False))
    return pa.schema(fields)


def file_format(key: str) -> str:
    suffix = PurePosixPath(key).suffix.lower()
    if suffix not in FORMATS:
        raise BadFileError(
            f"unsupported file type {suffix or '(none)'!r}: expected one of {', '.join(FORMATS)}"
        )
    return FORMATS[suffix]


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFileError(f"not UTF-8 text (byte {exc.start})") from None


def _json_objects(values: list[Any], what: str) -> list[dict[str, Any]]:
    for number, value in enumerate(values, start=1):
        if not isinstance(value, dict):
            raise BadFileError(f"{what} {number} is a JSON {type(value).__name__}, not an object")
    return values


def _ndjson(text: str) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise BadFileError(
                f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
    return _json_objects(rows, "line")


def read_json(text: str) -> list[dict[str, Any]]:
    """A JSON array of objects, or one object per line (NDJSON)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and len(text.strip().splitlines()) > 1:
            return _ndjson(text)
        raise BadFileError(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise BadFileError(f"a JSON {type(value).__name__}, not an array of objects")
    return _json_objects(value, "element")


def read_csv(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The header, then one record per row; empty fields are nulls."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        if len(set(header)) != len(header):
            raise BadFileError(f"header repeats a column name: {header}")
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise BadFileError(
                    f"line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                )
            rows.append(
                {
                    name: (value if value != "" else None)
                    for name, value in zip(header, row, strict=True)
                }
            )
    except StopIteration:
        raise BadFileError("no header row") from None
    except csv.Error as exc:
        raise BadFileError(f"not valid CSV at line {reader.line_num} ({exc})") from None
    return header, rows


#: Types JSON has no literal for, so JSON files carry them as text too.
TEXT_IN_JSON = ("timestamp", "date")
TEXT_CONVERTERS = {
    "int64": integer_from_text,
    "float64": float_from_text,
    "bool": bool_from_text,
    "timestamp": timestamp_from_text,
    "date": date_from_text,
}


def _coerce(value: Any, column: Column, from_text: bool) -> Any:
    """The value as the column's Python type, or ValueError."""
    kind = column.type
    if kind == "string":
        if isinstance(value, str):
            return value
        raise ValueError("expected string")
    convert = TEXT_CONVERTERS.get(kind)
    if convert is not None and isinstance(value, str) and (from_text or kind in TEXT_IN_JSON):
        return convert(value)
    if kind == "int64" and isinstance(value, int) and not isinstance(value, bool):
        if INT64_MIN <= value <= INT64_MAX:
            return value
        raise ValueError("out of the int64 range")
    if kind == "float64" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    raise ValueError(f"expected {kind}")


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def typed_rows(
    rows: list[dict[str, Any]],
    dataset: DatasetSchema,
    from_text: bool,
    header: list[str] | None = None,
) -> tuple[list[tuple[Any, ...]], tuple[str, ...]]:
    """Every row as a tuple of declared columns, typed; raises BadFileError on the first fault."""
    declared = {c.name for c in dataset.columns}
    present: dict[str, None] = dict.fromkeys(header or [])
    for row in rows:
        present.update(dict.fromkeys(row))
    extra = tuple(name for name in present if name not in declared)
    if extra and not dataset.allow_extra_columns:
        raise BadFileError(f"undeclared column(s): {', '.join(extra)}")
    missing = [c.name for c in dataset.columns if c.name not in present]
    if missing and (rows or header is not None):
        raise BadFileError(f"missing column(s): {', '.join(missing)}")
    typed = []
    for number, row in enumerate(rows, start=1):
        values: list[Any] = []
        for column in dataset.columns:
            if column.name not in row:
                raise BadFileError(f"row {number}: column {column.name!r} is missing")
            value = row[column.name]
            if value is None:
                if not column.nullable:
                    raise BadFileError(f"row {number}: column {column.name!r} is null")
                values.append(None)
                continue
            try:
                values.append(_coerce(value, column, from_text))
            except (ValueError, OverflowError) as exc:
                raise BadFileError(
                    f"row {number}: column {column.name!r}: {exc}, found {_shown(value)}"
                ) from None
        typed.append(tuple(values))
    return typed, extra


def deduplicate(
    rows: list[tuple[Any, ...]], dataset: DatasetSchema
) -> tuple[list[tuple[Any, ...]], int, int]:
    """Exact duplicates dropped (first kept); among rows sharing the key, the last one wins."""
    unique = list(dict.fromkeys(rows))
    duplicates = len(rows) - len(unique)
    if not dataset.key:
        return unique, duplicates, 0
    names = [c.name for c in dataset.columns]
    positions = [names.index(k) for k in dataset.key]
    latest: dict[tuple[Any, ...], int] = {}
    for index, row in enumerate(unique):
        latest[tuple(row[p] for p in positions)] = index
    kept_indexes = sorted(latest.values())
    return [unique[i] for i in kept_indexes], duplicates, len(unique) - len(kept_indexes)


def parse_landed_file(
    body: bytes, key: str, dataset: DatasetSchema, processed_at: datetime
) -> TypedFile:
    """The file as the dataset's bronze table, or BadFileError."""
    kind = file_format(key)
    text = _text(body)
    if not text.strip():
        raise BadFileError("the file is empty")
    header = None
    if kind == "csv":
        header, rows = read_csv(text)
    elif kind == "ndjson":
        rows = _ndjson(text)
    else:
        rows = read_json(text)
    typed, extra = typed_rows(rows, dataset, from_text=kind == "csv", header=header)
    kept, duplicates, superseded = deduplicate(typed, dataset)
    schema = arrow_schema(dataset)
    columns = list(zip(*kept, strict=True)) if kept else [()] * len(dataset.columns)
    arrays = [
        pa.array(list(values), type=field.type)
        for values, field in zip(columns, schema, strict=False)
    ]
    arrays.append(pa.array([processed_at] * len(kept), type=schema.field(PROCESSED_AT).type))
    arrays.append(pa.array([key] * len(kept), type=pa.string()))
    table = pa.Table.from_arrays(arrays, schema=schema)
    return TypedFile(table, kind, len(rows), duplicates, superseded, extra)
