"""Timestamps the transactions source reads, all to UTC: ISO 8601 text and epoch seconds.

One reading for order timestamps and customers' ``last_seen``, so both agree on what a value
without an offset means (UTC) and on what cannot be read (None, for the caller to count).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def iso_utc(text: str) -> datetime | None:
    """ISO 8601 text (``Z``, ``+02:00`` or no offset, which reads as UTC) → an aware UTC
    datetime; None when it is not ISO 8601."""
    text = text.strip()
    if text.endswith("z"):  # RFC 3339 allows a lowercase Z
        text = text[:-1] + "Z"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def epoch_utc(seconds: int | float | Decimal) -> datetime | None:
    """Epoch seconds (fractions kept to the microsecond) → UTC; None when not finite or out of
    range. A value too large for seconds but not for milliseconds (``Date.now()``, Java's
    ``currentTimeMillis``, as DynamoDB items often hold) reads as epoch milliseconds."""
    try:
        value = Decimal(seconds) if not isinstance(seconds, Decimal) else seconds
        if not value.is_finite():
            return None
        micros = int((value * 1_000_000).to_integral_value())
        try:
            return EPOCH + timedelta(microseconds=micros)
        except OverflowError:
            return EPOCH + timedelta(microseconds=int((value * 1_000).to_integral_value()))
    except (InvalidOperation, OverflowError, ValueError):
        return None


def any_utc(value: object) -> datetime | None:
    """ISO 8601 text, epoch seconds as a number, or epoch seconds as numeric text → UTC."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return epoch_utc(value)
    if isinstance(value, float):
        return epoch_utc(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if NUMBER_TEXT.fullmatch(text):
            return epoch_utc(Decimal(text))
        return iso_utc(text)
    return None
