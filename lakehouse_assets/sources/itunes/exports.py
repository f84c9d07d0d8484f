"""One landed iTunes export → its bronze table (every value as text), and the date it was taken.

iTunes writes "Export Playlist" text in whatever encoding and line ending its platform favours,
and people re-save it from spreadsheets as CSV, so the reader accepts exactly those forms and
nothing it would have to guess: UTF-16 only with a byte-order mark, otherwise strict UTF-8.
Values stay verbatim (no trimming, no normalisation); typing is silver's job.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

import pyarrow as pa

from lakehouse_assets.errors import BadFileError

REQUIRED_COLUMNS = (
    "Name",
    "Artist",
    "Album",
    "Genre",
    "Track Number",
    "Year",
    "Date Modified",
    "Date Added",
    "Plays",
    "Last Played",
    "My Rating",
)
EXTENSIONS = (".txt", ".csv")
#: The packaged sample exports, one per format, landed by the local deployment.
SAMPLE_DIRECTORY = Path(__file__).parent / "sample"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # not str.splitlines: \x0b, \x1c, U+2028… are data
_KEY_DATE = re.compile(r"(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})(?![0-9])")
_BOMS = (
    (b"\xff\xfe", "utf-16-le", "UTF-16 LE"),
    (b"\xfe\xff", "utf-16-be", "UTF-16 BE"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
)


def parse_export(body: bytes, key: str) -> pa.Table:
    """The bronze columns of one export: one text column per header name, one row per line.

    ``.txt`` is tab-delimited with no quoting (UTF-16 with a BOM, or UTF-8); ``.csv`` is
    comma-separated UTF-8 with RFC 4180 quoting. Empty lines are skipped; a row shorter than
    the header is padded with empty values (iTunes leaves a trailing empty field out); a
    trailing delimiter (on the header or a row) adds no column; a row with values beyond the
    header makes the file bad. A header without rows is a valid, empty export.
    """
    suffix = PurePosixPath(key).suffix.lower()
    if suffix not in EXTENSIONS:
        raise BadFileError(
            f"{PurePosixPath(key).name!r} is not an iTunes export: expected a .txt file "
            "(iTunes File > Library > Export Playlist) or a .csv file saved from one"
        )
    text = _decode(body, allow_utf16=suffix == ".txt")
    records = _txt_records(text) if suffix == ".txt" else _csv_records(text)
    return _table(records, delimiter="tab" if suffix == ".txt" else "comma")


def export_date(key: str, landed_at: datetime) -> date:
    """The ``YYYY-MM-DD`` in the object key, else the landing day in UTC.

    Any part of the key may carry it (file name or folder); when several do, the last real date
    wins, so the file name overrides its folder. Digit runs that are not a calendar date
    (``2024-13-45``) are ignored. A naive ``landed_at`` is taken to be UTC already.
    """
    found = None
    for match in _KEY_DATE.finditer(key):
        year, month, day = (int(part) for part in match.groups())
        try:
            found = date(year, month, day)
        except ValueError:
            continue
    if found is not None:
        return found
    if landed_at.tzinfo is not None:
        landed_at = landed_at.astimezone(UTC)
    return landed_at.date()


def missing_columns(columns: Iterable[str]) -> list[str]:
    """The required columns absent from ``columns``, in the order the contract lists them."""
    present = set(columns)
    return [name for name in REQUIRED_COLUMNS if name not in present]


def _decode(body: bytes, *, allow_utf16: bool) -> str:
    encoding, label, start = "utf-8", "UTF-8", 0
    for bom, codec, name in _BOMS:
        if body.startswith(bom):
            encoding, label, start = codec, name, len(bom)
            break
    if encoding.startswith("utf-16") and not allow_utf16:
        raise BadFileError(
            f"a .csv export must be UTF-8 but this one starts with a {label} byte-order mark: "
            "save it again as CSV UTF-8"
        )
    try:
        text = body[start:].decode(encoding, errors="strict")
    except UnicodeDecodeError as exc:
        raise BadFileError(
            f"not valid {label} text (byte {exc.start + start}: {exc.reason}); "
            + (
                "UTF-16 is read only with a byte-order mark, otherwise the file must be UTF-8"
                if label == "UTF-8"
                else "the file is damaged or truncated"
            )
        ) from None
    if "\x00" in text:
        raise BadFileError(
            f"{label} text containing NUL characters: probably UTF-16 without a byte-order mark; "
            "export the playlist again from iTunes"
        )
    return text


def _txt_records(text: str) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if line:
            yield number, line.split("\t")


def _csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for record in reader:
            if record:
                yield reader.line_num, record
    except csv.Error as exc:
        raise BadFileError(f"not valid CSV at line {reader.line_num}: {exc}") from None


def _table(records: Iterator[tuple[int, list[str]]], *, delimiter: str) -> pa.Table:
    first = next(records, None)
    if first is None:
        raise BadFileError("empty file: an iTunes export starts with a header row of column names")
    header = first[1]
    while len(header) > 1 and header[-1] == "":
        header = header[:-1]  # a trailing delimiter names no column
    _check_header(header, delimiter)
    width = len(header)
    rows: list[list[str]] = []
    for number, fields in records:
        while len(fields) > width and fields[-1] == "":
            fields = fields[:-1]  # trailing empty fields past the header carry nothing
        if len(fields) > width:
            raise BadFileError(
                f"line {number} has {len(fields)} {delimiter}-separated fields but the header has "
                f"{width}: the file is damaged or a value contains a {delimiter}"
            )
        if len(fields) < width:
            fields = fields + [""] * (width - len(fields))
        rows.append(fields)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    return pa.Table.from_arrays(
        [pa.array(column, type=pa.string()) for column in columns], names=header
    )


def _check_header(header: list[str], delimiter: str) -> None:
    missing = missing_columns(header)
    if missing:
        raise BadFileError(
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            f"the header row has {', '.join(header)!r} ({delimiter}-separated); export again "
            "with these columns shown in iTunes"
        )
    seen: set[str] = set()
    for name in header:
        if not name:
            raise BadFileError("the header row has an empty column name")
        if name.startswith("_"):
            raise BadFileError(
                f"header column {name!r} starts with '_', which is reserved for ingestion columns"
            )
        if name in seen:
            raise BadFileError(f"header column {name!r} appears more than once")
        seen.add(name)
