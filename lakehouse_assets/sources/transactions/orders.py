"""A landed order file → its transactions, flattened, loyalty decoded, timestamps in UTC.

A file holds one transaction per JSON object: a single object, an array of objects, or
newline-delimited (or simply concatenated) objects. Nested objects flatten with ``_``
(``{"payment": {"method": "card"}}`` → ``payment_method``); arrays stay, as JSON text.
``embedded_data`` (base64 of a JSON object of loyalty fields) is kept as sent and decoded into
``loyalty_<field>`` columns. One order whose ``embedded_data`` does not decode does not make the
file bad: the order is published with null loyalty fields and counted
(``loyalty_undecodable``), since the rest of it is good data. A file that is not JSON, or an
order without ``transaction_id`` or a readable ISO 8601 ``timestamp``, is a bad file
(BadFileError, quarantined). A timestamp without an offset reads as UTC.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lakehouse_assets.errors import BadFileError
from lakehouse_assets.sources.transactions.times import iso_utc

TRANSACTION_ID = "transaction_id"
TIMESTAMP = "timestamp"
EMBEDDED = "embedded_data"
LOYALTY_PREFIX = "loyalty_"


@dataclass(frozen=True)
class Order:
    """One transaction as landed: ``fields`` flattened (``transaction_id`` as text,
    ``timestamp`` an aware UTC datetime), where it came from, and its place in the file."""

    transaction_id: str
    timestamp: datetime
    fields: Mapping[str, Any]
    file: str
    landed_at: datetime
    index: int
    loyalty_undecodable: bool = False


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFileError(f"not valid UTF-8 at byte {exc.start}") from None


def json_values(body: bytes) -> Iterator[Any]:
    """Every top-level JSON value of the file (one, or several separated by whitespace)."""
    text = _text(body)
    decoder = json.JSONDecoder()
    position, seen = 0, 0
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position == len(text):
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise BadFileError(
                f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        seen += 1
        yield value
    if not seen:
        raise BadFileError("empty file: no JSON value")


def flatten(value: Mapping[str, Any], prefix: str = "", into: dict[str, Any] | None = None) -> dict:
    """Nested objects joined with ``_``; two paths reaching one name are a bad file."""
    flat: dict[str, Any] = {} if into is None else into
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flatten(item, f"{name}_", flat)
            continue
        if name in flat:
            raise BadFileError(f"two fields flatten to the same column {name!r}")
        flat[name] = json.dumps(item, ensure_ascii=False) if isinstance(item, list) else item
    return flat


def decode_loyalty(value: object) -> dict[str, Any] | None:
    """``embedded_data`` → ``loyalty_<field>`` values; None when it is not base64 of a JSON
    object (standard or URL-safe alphabet, padding optional)."""
    if not isinstance(value, str):
        return None
    text = "".join(value.split())
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
        decoded = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(decoded, dict):
        return None
    return flatten(decoded, LOYALTY_PREFIX)


def _order(obj: Any, number: int, file: str, landed_at: datetime) -> Order:
    where = f"order {number}"
    if not isinstance(obj, dict):
        raise BadFileError(f"{where} is a JSON {type(obj).__name__}, not an object")
    fields = flatten(obj)
    transaction_id = fields.get(TRANSACTION_ID)
    if isinstance(transaction_id, bool) or not isinstance(transaction_id, str | int):
        raise BadFileError(f"{where} has no transaction_id")
    transaction_id = str(transaction_id).strip()
    if not transaction_id:
        raise BadFileError(f"{where} has no transaction_id")
    raw_timestamp = fields.get(TIMESTAMP)
    if raw_timestamp is None or raw_timestamp == "":
        raise BadFileError(f"{where} ({transaction_id}) has no timestamp")
    timestamp = iso_utc(raw_timestamp) if isinstance(raw_timestamp, str) else None
    if timestamp is None:
        raise BadFileError(f"{where} ({transaction_id}) has a timestamp that is not ISO 8601")
    fields[TRANSACTION_ID] = transaction_id
    fields[TIMESTAMP] = timestamp
    undecodable = False
    if fields.get(EMBEDDED) is not None:
        loyalty = decode_loyalty(fields[EMBEDDED])
        if loyalty is None:
            undecodable = True
        else:
            for name, item in loyalty.items():
                if name in fields:
                    raise BadFileError(f"{where}: loyalty field {name!r} is also an order field")
                fields[name] = item
    return Order(transaction_id, timestamp, fields, file, landed_at, number - 1, undecodable)


def parse_orders(body: bytes, *, file: str, landed_at: datetime) -> list[Order]:
    """The file's orders in file order; BadFileError (with a reason) when the file is bad."""
    orders: list[Order] = []
    for value in json_values(body):
        objects = value if isinstance(value, list) else [value]
        for obj in objects:
            orders.append(_order(obj, len(orders) + 1, file, landed_at))
    return orders
