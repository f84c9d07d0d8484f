"""The text → type rules every source shares: one definition of what "12.0" or a zero date is.

Sources send text (PHP serialises MySQL rows as strings, CSV is text). The DuckDB typing engine
(:mod:`lakehouse_assets.medallion.silver`) spells these rules in SQL and the landed-file reader
(:mod:`lakehouse_assets.medallion.landed_files`) in Python, both from the patterns here; a test
runs both over the same texts so they cannot drift apart.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

#: Columns every bronze table carries after the source's own (names start with ``_``).
INGESTION_COLUMNS = ("_ingested_at", "_raw_snapshot")
#: An integer, optionally written with a zero fraction as spreadsheets and PHP floats do.
INTEGER_TEXT = r"[+-]?\d+(?:\.0*)?"
DATETIME_TEXT = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
#: MySQL's "no date": null, and counted.
ZERO_DATE_TEXT = r"0000-00-00(?:[ T]00:00(?::00(?:\.0+)?)?)?"
DATE_TEXT = r"\d{4}-\d{2}-\d{2}"
TIMESTAMP_TZ_TEXT = (
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_INTEGER = re.compile(INTEGER_TEXT)
_DATE = re.compile(DATE_TEXT)
_TIMESTAMP_TZ = re.compile(TIMESTAMP_TZ_TEXT)


def integer_from_text(text: str) -> int:
    """``"12"``, ``" 12 "`` and ``"12.0"`` are 12; anything else raises ValueError."""
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped):
        raise ValueError("expected int64")
    value = int(stripped.split(".", 1)[0])
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("out of the int64 range")
    return value


def float_from_text(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("expected float64") from None


def bool_from_text(text: str) -> bool:
    try:
        return BOOL_TEXT[text.strip().lower()]
    except KeyError:
        raise ValueError("expected bool") from None


def timestamp_from_text(text: str) -> datetime:
    """ISO 8601 date and time; without an offset it is UTC."""
    stripped = text.strip()
    if not _TIMESTAMP_TZ.fullmatch(stripped):
        raise ValueError("expected timestamp")
    moment = datetime.fromisoformat(stripped)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def date_from_text(text: str) -> date:
    stripped = text.strip()
    if not _DATE.fullmatch(stripped):
        raise ValueError("expected date")
    return date.fromisoformat(stripped)
