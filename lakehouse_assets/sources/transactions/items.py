"""A landed items file (CSV) → its item lines, with every column kept.

RFC 4180: comma-separated, fields optionally quoted with ``"`` (doubled inside), a header row;
UTF-8 with an optional BOM. The header must name ``transaction_id, item_id, quantity,
unit_price`` (other columns are kept, as text). ``quantity`` reads as an integer and
``unit_price`` as a decimal number (empty → null); ``transaction_id`` and ``item_id`` must not be
empty. Anything else — bad encoding, broken quoting, a row with the wrong number of fields, a
duplicate or missing column, a value that is not a number — makes the file bad (BadFileError,
quarantined), naming the line and column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lakehouse_assets.errors import BadFileError

TRANSACTION_ID = "transaction_id"
ITEM_ID = "item_id"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
REQUIRED = (TRANSACTION_ID, ITEM_ID, QUANTITY, UNIT_PRICE)
INTEGER_TEXT = re.compile(r"[+-]?\d{1,18}")
DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


@dataclass(frozen=True)
class ItemLine:
    """One CSV data row: typed required columns and the other columns as text (empty → null)."""

    transaction_id: str
    item_id: str
    fields: Mapping[str, Any]
    file: str
    landed_at: datetime
    line: int


def _rows(body: bytes) -> list[tuple[int, list[str]]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFileError(f"not valid UTF-8 at byte {exc.start}") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if row:  # a blank line (the file's last line end included) is no row
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise BadFileError(f"not valid CSV at line {reader.line_num}: {exc}") from None
    return rows


def _value(column: str, text: str, line: int) -> Any:
    if column in (TRANSACTION_ID, ITEM_ID):
        if not text.strip():
            raise BadFileError(f"line {line}: {column} is empty")
        return text.strip()
    if text.strip() == "":
        return None
    if column == QUANTITY:
        if not INTEGER_TEXT.fullmatch(text.strip()):
            raise BadFileError(f"line {line}: quantity {text!r} is not an integer")
        return int(text)
    if column == UNIT_PRICE:
        if not DECIMAL_TEXT.fullmatch(text.strip()):
            raise BadFileError(f"line {line}: unit_price {text!r} is not a number")
        return float(text)
    return text


def parse_items(body: bytes, *, file: str, landed_at: datetime) -> list[ItemLine]:
    """The file's item lines in file order; BadFileError (with a reason) when the file is bad."""
    rows = _rows(body)
    if not rows:
        raise BadFileError("empty file: no header row")
    header_line, raw_header = rows[0]
    header = [name.strip() for name in raw_header]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates or "" in header:
        problem = f"duplicate columns {', '.join(duplicates)}" if duplicates else "an empty name"
        raise BadFileError(f"header (line {header_line}) has {problem}")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BadFileError(f"header lacks required columns: {', '.join(missing)}")
    lines: list[ItemLine] = []
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise BadFileError(f"line {line} has {len(row)} fields, the header {len(header)}")
        fields = {
            column: _value(column, text, line) for column, text in zip(header, row, strict=True)
        }
        lines.append(
            ItemLine(fields[TRANSACTION_ID], fields[ITEM_ID], fields, file, landed_at, line)
        )
    return lines
