"""Bronze export → silver ``tracks``: the contract's columns, typed in DuckDB, rejects counted.

iTunes writes dates in the exporting machine's locale and with no timezone, so the day/month
order is configuration (``DMY`` or ``MDY``) and every timestamp here is naive: a wall-clock time
on that machine, never converted. Text that is not a date (or an impossible one, ``31/02/2020``)
becomes null and text that is not an integer becomes 0; both are counted, with examples, in the
:class:`TracksReport` so the silver checks and metadata can show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any

import pyarrow as pa

from lakehouse_assets.errors import BadFileError
from lakehouse_assets.medallion.engine import connect, quote_identifier, quote_literal
from lakehouse_assets.sources.itunes.exports import missing_columns

DATE_ORDERS = ("DMY", "MDY")
TEXT_COLUMNS = {"name": "Name", "artist": "Artist", "album": "Album", "genre": "Genre"}
INTEGER_COLUMNS = {
    "tracknumber": "Track Number",
    "year": "Year",
    "plays": "Plays",
    "myrating": "My Rating",
}
DATE_COLUMNS = {
    "datemodified": "Date Modified",
    "dateadded": "Date Added",
    "lastplayed": "Last Played",
}
RATING_DIGITS = {20: 1, 40: 2, 60: 3, 80: 4, 100: 5}

#: The contract's columns, in order; ``_``-prefixed bronze (ingestion) columns follow them.
SCHEMA = pa.schema(
    [
        *((column, pa.large_string()) for column in TEXT_COLUMNS),
        ("tracknumber", pa.int64()),
        ("year", pa.int64()),
        ("datemodified", pa.timestamp("us")),
        ("dateadded", pa.timestamp("us")),
        ("plays", pa.int64()),
        ("lastplayed", pa.timestamp("us")),
        ("myrating", pa.int64()),
        ("datemodifieddate", pa.timestamp("us")),
        ("dateaddeddate", pa.timestamp("us")),
        ("lastplayeddate", pa.timestamp("us")),
        ("myratingdigit", pa.int64()),
    ]
)

#: An integer as text; ``12.0`` counts (spreadsheets write it), ``12.5`` and ``1,234`` do not.
INTEGER_TEXT = r"[+-]?[0-9]+(\.0*)?"
#: A date as iTunes writes it once spacing is normalised: day and month of 1-2 digits, year of
#: 2 or 4 (never 3: DuckDB's ``%Y`` would read ``21`` as year 21), optional time and AM/PM.
DATE_TEXT = (
    r"[0-9]{1,2}/[0-9]{1,2}/([0-9]{2}|[0-9]{4})(,? [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?( [AaPp][Mm])?)?"
)
_TIMES = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p")
_EXAMPLES = 3
_ROW = "__row"


@dataclass(frozen=True)
class TracksReport:
    """What typing one export found. Keys are silver column names; only columns with rejects
    appear; examples are the first distinct rejected values in file order, verbatim."""

    rows: int
    unparseable_dates: dict[str, int]
    unparseable_date_examples: dict[str, list[str]]
    non_integers: dict[str, int]
    non_integer_examples: dict[str, list[str]]

    def metadata(self) -> dict[str, Any]:
        """Flat values for asset metadata and checks."""
        return {
            "rows": self.rows,
            "unparseable_dates": sum(self.unparseable_dates.values()),
            "unparseable_dates_by_column": dict(self.unparseable_dates),
            "unparseable_date_examples": dict(self.unparseable_date_examples),
            "non_integers": sum(self.non_integers.values()),
            "non_integers_by_column": dict(self.non_integers),
            "non_integer_examples": dict(self.non_integer_examples),
        }


def date_formats(date_order: str) -> list[str]:
    """``strptime`` formats for one date order, two-digit years first (see ``DATE_TEXT``)."""
    if date_order not in DATE_ORDERS:
        raise ValueError(f"date order must be one of {', '.join(DATE_ORDERS)}, not {date_order!r}")
    day_month = "%d/%m" if date_order == "DMY" else "%m/%d"
    formats = []
    for year in ("%y", "%Y"):
        day = f"{day_month}/{year}"
        formats += [f"{day}{sep}{time}" for sep, time in product((", ", " "), _TIMES)]
        formats.append(day)
    return formats


def tracks_table(bronze: pa.Table, date_order: str) -> tuple[pa.Table, TracksReport]:
    """Silver ``tracks`` from one export's bronze table: one row per bronze row, same order.

    Text columns: empty → null, anything else verbatim. Integer columns: empty → 0; text that
    is not an integer → 0, counted. Dates: naive timestamps read in ``date_order`` (``DMY`` or
    ``MDY``; anything else is a ``ValueError``); empty → null; unparseable or impossible →
    null, counted. Integers and dates ignore surrounding whitespace and read U+202F / U+00A0 as
    spaces. ``Location`` and the other columns iTunes exports are dropped; ``_``-prefixed
    bronze columns are passed through, unchanged, after the contract's columns.
    """
    formats = date_formats(date_order)
    missing = missing_columns(bronze.column_names)
    if missing:
        raise BadFileError(f"missing required columns {', '.join(missing)}")
    source = bronze.select(
        [*TEXT_COLUMNS.values(), *INTEGER_COLUMNS.values(), *DATE_COLUMNS.values()]
    )
    source = source.append_column(_ROW, pa.array(range(bronze.num_rows), type=pa.int64()))

    typed: list[str] = []
    flags: list[str] = []
    for column, name in TEXT_COLUMNS.items():
        typed.append(f"NULLIF(CAST({quote_identifier(name)} AS VARCHAR), '') AS {column}")
    for column, name in INTEGER_COLUMNS.items():
        value, bad = _integer(_spaced(name))
        typed.append(f"{value} AS {column}")
        flags.append(f"{bad} AS {quote_identifier('bad_' + column)}")
    for column, name in DATE_COLUMNS.items():
        value, bad = _timestamp(_spaced(name), formats)
        typed.append(f"{value} AS {column}")
        flags.append(f"{bad} AS {quote_identifier('bad_' + column)}")

    connection = connect()
    try:
        connection.register("bronze", source)
        connection.execute(
            f"CREATE TEMP TABLE typed AS SELECT {_ROW}, {', '.join(typed + flags)} FROM bronze"
        )
        digits = " ".join(f"WHEN {k} THEN {v}" for k, v in RATING_DIGITS.items())
        table = connection.sql(
            f"""SELECT {", ".join(TEXT_COLUMNS)}, tracknumber, year, datemodified, dateadded,
                plays, lastplayed, myrating,
                CAST(date_trunc('day', datemodified) AS TIMESTAMP) AS datemodifieddate,
                CAST(date_trunc('day', dateadded) AS TIMESTAMP) AS dateaddeddate,
                CAST(date_trunc('day', lastplayed) AS TIMESTAMP) AS lastplayeddate,
                CASE myrating {digits} ELSE 0 END AS myratingdigit
            FROM typed ORDER BY {_ROW}"""
        ).to_arrow_table()
        dates, date_examples = _rejects(connection, DATE_COLUMNS)
        integers, integer_examples = _rejects(connection, INTEGER_COLUMNS)
    finally:
        connection.close()

    table = table.cast(SCHEMA)
    for name in bronze.column_names:
        if name.startswith("_"):
            table = table.append_column(bronze.schema.field(name), bronze.column(name))
    report = TracksReport(bronze.num_rows, dates, date_examples, integers, integer_examples)
    return table, report


def _spaced(name: str) -> str:
    """The column with any run of whitespace (incl. U+202F, U+00A0) as one space, trimmed."""
    text = f"CAST({quote_identifier(name)} AS VARCHAR)"
    text = f"replace(replace({text}, chr(8239), ' '), chr(160), ' ')"
    return f"trim(regexp_replace({text}, '\\s+', ' ', 'g'))"


def _integer(text: str) -> tuple[str, str]:
    number = f"TRY_CAST(regexp_replace({text}, '\\.0*$', '') AS BIGINT)"
    valid = f"regexp_full_match({text}, {quote_literal(INTEGER_TEXT)})"
    value = f"CASE WHEN {valid} THEN coalesce({number}, 0) ELSE 0 END"
    bad = f"coalesce({text} <> '' AND NOT ({valid} AND {number} IS NOT NULL), false)"
    return value, bad


def _timestamp(text: str, formats: list[str]) -> tuple[str, str]:
    ampm = f"regexp_replace({text}, ' ?([AaPp][Mm])$', ' \\1')"
    listed = "[" + ", ".join(quote_literal(f) for f in formats) + "]"
    value = (
        f"CASE WHEN regexp_full_match({ampm}, {quote_literal(DATE_TEXT)}) "
        f"THEN try_strptime({ampm}, {listed}) END"
    )
    bad = f"coalesce({text} <> '' AND ({value}) IS NULL, false)"
    return value, bad


def _rejects(
    connection: Any, columns: dict[str, str]
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Per column: how many rows were rejected, and the first distinct rejected values."""
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for column, name in columns.items():
        flag = quote_identifier("bad_" + column)
        row = connection.execute(
            f"""SELECT (SELECT count(*) FROM typed WHERE {flag}),
                (SELECT list(value ORDER BY first_row)[1:{_EXAMPLES}] FROM (
                    SELECT CAST(b.{quote_identifier(name)} AS VARCHAR) AS value,
                        min({_ROW}) AS first_row
                    FROM typed JOIN bronze b USING ({_ROW}) WHERE {flag} GROUP BY value))"""
        ).fetchone()
        if row and row[0]:
            counts[column] = int(row[0])
            examples[column] = list(row[1])
    return counts, examples
