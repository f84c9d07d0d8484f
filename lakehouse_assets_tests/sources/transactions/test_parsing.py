"""Landed transactions files → orders and item lines, and what makes a file bad.

Pins: the three JSON shapes (object, array, NDJSON) read alike; nested objects flatten with ``_``;
``embedded_data`` decodes to ``loyalty_<field>`` (an undecodable one is flagged on its order, not
a bad file); timestamps with offsets become UTC; CSV is RFC 4180 with an optional BOM and keeps
every column; invalid JSON/CSV, a missing ``transaction_id``/``timestamp`` or required column
raise BadFileError with a reason.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from lakehouse_assets.errors import BadFileError
from lakehouse_assets.sources.transactions.items import parse_items
from lakehouse_assets.sources.transactions.orders import parse_orders

LANDED = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def b64(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def orders(body: str | bytes) -> list:
    data = body.encode() if isinstance(body, str) else body
    return parse_orders(data, file="orders/a.json", landed_at=LANDED)


def items(body: str | bytes) -> list:
    data = body.encode() if isinstance(body, str) else body
    return parse_items(data, file="items/a.csv", landed_at=LANDED)


ORDER = {
    "transaction_id": "T-1",
    "store_id": 7,
    "customer_id": "C-1",
    "timestamp": "2024-03-04T23:30:00-05:00",
    "payment": {"method": "card", "card": {"scheme": "visa"}},
    "tags": ["a", "b"],
    "embedded_data": b64({"tier": "gold", "points": 12, "perks": {"coffee": True}}),
}


def test_an_order_flattens_decodes_loyalty_and_reads_its_timestamp_as_utc() -> None:
    [order] = orders(json.dumps(ORDER))
    assert order.transaction_id == "T-1"
    assert order.timestamp == datetime(2024, 3, 5, 4, 30, tzinfo=UTC)
    assert order.fields == {
        "transaction_id": "T-1",
        "store_id": 7,
        "customer_id": "C-1",
        "timestamp": datetime(2024, 3, 5, 4, 30, tzinfo=UTC),
        "payment_method": "card",
        "payment_card_scheme": "visa",
        "tags": '["a", "b"]',
        "embedded_data": ORDER["embedded_data"],
        "loyalty_tier": "gold",
        "loyalty_points": 12,
        "loyalty_perks_coffee": True,
    }
    assert not order.loyalty_undecodable
    assert (order.file, order.landed_at, order.index) == ("orders/a.json", LANDED, 0)


def test_object_array_and_ndjson_read_alike() -> None:
    second = {**ORDER, "transaction_id": "T-2", "timestamp": "2024-03-04T10:00:00Z"}
    as_array = orders(json.dumps([ORDER, second], indent=2))
    as_ndjson = orders(json.dumps(ORDER) + "\n" + json.dumps(second) + "\n")
    as_bom_ndjson = orders(
        b"\xef\xbb\xbf" + (json.dumps(ORDER) + "\r\n" + json.dumps(second)).encode()
    )
    assert [o.fields for o in as_array] == [o.fields for o in as_ndjson]
    assert [o.fields for o in as_bom_ndjson] == [o.fields for o in as_array]
    assert [o.index for o in as_array] == [0, 1]
    assert orders("[]") == []


@pytest.mark.parametrize(
    "embedded",
    ["not base64!", b64([1, 2]), base64.b64encode(b"{not json").decode(), 42],
)
def test_undecodable_loyalty_is_flagged_on_the_order_not_a_bad_file(embedded: object) -> None:
    [order] = orders(json.dumps({**ORDER, "embedded_data": embedded}))
    assert order.loyalty_undecodable
    assert not any(name.startswith("loyalty_") for name in order.fields)


def test_loyalty_accepts_url_safe_base64_without_padding() -> None:
    text = base64.urlsafe_b64encode(json.dumps({"tier": "é?>"}).encode()).decode().rstrip("=")
    [order] = orders(json.dumps({**ORDER, "embedded_data": text}))
    assert order.fields["loyalty_tier"] == "é?>"


def test_timestamps_without_offset_read_as_utc_and_integer_ids_as_text() -> None:
    [order] = orders(json.dumps({"transaction_id": 991, "timestamp": "2024-03-04T10:00:00.250"}))
    assert order.transaction_id == "991"
    assert order.timestamp == datetime(2024, 3, 4, 10, 0, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('[{"transaction_id": "T-1", "timestamp": "2024-03-04T10:00:00Z"', "not valid JSON"),
        ('{"transaction_id": "T-1", "timestamp": "2024-03-04T10:00:00Z"}\n{oops}', "line 2"),
        ("", "empty file"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        ('{"timestamp": "2024-03-04T10:00:00Z"}', "order 1 has no transaction_id"),
        (
            '[{"transaction_id": "T-1", "timestamp": "2024-03-04T10:00:00Z"}, '
            '{"transaction_id": "T-2"}]',
            "order 2 (T-2) has no timestamp",
        ),
        ('{"transaction_id": "T-1", "timestamp": "04/03/2024"}', "not ISO 8601"),
        ('{"transaction_id": "", "timestamp": "2024-03-04T10:00:00Z"}', "no transaction_id"),
        ("[1, 2]", "order 1 is a JSON int"),
        (
            '{"transaction_id": "T-1", "timestamp": "2024-03-04T10:00:00Z", '
            '"a": {"b": 1}, "a_b": 2}',
            "same column 'a_b'",
        ),
    ],
)
def test_bad_order_files(body: str | bytes, reason: str) -> None:
    with pytest.raises(BadFileError) as raised:
        orders(body)
    assert reason in raised.value.reason


def test_items_keep_every_column_with_rfc4180_quoting_and_a_bom() -> None:
    body = (
        "\ufefftransaction_id,item_id,quantity,unit_price,description,note\r\n"
        'T-1,SKU-1,2,3.50,"Flat white, ""large""",\r\n'
        'T-1,SKU-2,,-0.5,"two\r\nlines",x\r\n'
        "\r\n"
    ).encode()
    first, second = items(body)
    assert first.fields == {
        "transaction_id": "T-1",
        "item_id": "SKU-1",
        "quantity": 2,
        "unit_price": 3.5,
        "description": 'Flat white, "large"',
        "note": None,
    }
    assert second.fields["quantity"] is None
    assert second.fields["unit_price"] == -0.5
    assert second.fields["description"] == "two\r\nlines"
    assert (first.line, second.line) == (2, 4)
    assert (first.transaction_id, first.item_id, first.file) == ("T-1", "SKU-1", "items/a.csv")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("transaction_id,item_id,quantity\nT-1,S,1\n", "lacks required columns: unit_price"),
        ("transaction_id,item_id,quantity,unit_price\nT-1,S,1\n", "line 2 has 3 fields"),
        ('transaction_id,item_id,quantity,unit_price\nT-1,"S,1,2\n', "not valid CSV"),
        ("transaction_id,item_id,quantity,unit_price\nT-1,S,1.5,2\n", "not an integer"),
        ("transaction_id,item_id,quantity,unit_price\nT-1,S,1,two\n", "not a number"),
        ("transaction_id,item_id,quantity,unit_price\n,S,1,2\n", "transaction_id is empty"),
        ("transaction_id,item_id,item_id,quantity,unit_price\n", "duplicate columns item_id"),
        ("", "empty file"),
        (b"transaction_id,item_id,quantity,unit_price\nT-\xe9,S,1,2\n", "not valid UTF-8"),
    ],
)
def test_bad_items_files(body: str | bytes, reason: str) -> None:
    with pytest.raises(BadFileError) as raised:
        items(body)
    assert reason in raised.value.reason
