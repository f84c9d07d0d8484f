"""The value rules every customers and fraud score lookup shares, and the packaged samples.

Pins: ``last_seen`` reads ISO 8601 (``Z``, offset, none = UTC) and epoch seconds (number or
numeric text) as UTC, anything else None; the fraud score is the last token of the newest event
containing the id (ties broken by ingestion time, then event id), a non-integer last token counts
as unparseable; time windows merge when they overlap; the samples answer through the interface.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lakehouse_assets.errors import SourceError
from lakehouse_assets.sources.transactions.lookups import (
    SampleCustomersLookup,
    SampleFraudScoresLookup,
    newest_scores,
    parse_last_seen,
    time_windows,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T09:15:00Z", datetime(2024, 3, 1, 9, 15, tzinfo=UTC)),
        ("2024-03-01T10:15:00+01:00", datetime(2024, 3, 1, 9, 15, tzinfo=UTC)),
        ("2024-03-01T09:15:00", datetime(2024, 3, 1, 9, 15, tzinfo=UTC)),
        ("2024-03-01 09:15:00.5-00:30", datetime(2024, 3, 1, 9, 45, 0, 500000, tzinfo=UTC)),
        (1709284500, datetime(2024, 3, 1, 9, 15, tzinfo=UTC)),
        (Decimal("1709284500.25"), datetime(2024, 3, 1, 9, 15, 0, 250000, tzinfo=UTC)),
        (1709284500.5, datetime(2024, 3, 1, 9, 15, 0, 500000, tzinfo=UTC)),
        ("1709284500", datetime(2024, 3, 1, 9, 15, tzinfo=UTC)),
        (" 1709284500.75 ", datetime(2024, 3, 1, 9, 15, 0, 750000, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (True, None),
        (None, None),
        (float("nan"), None),
        (10**30, None),
        ({"S": "2024"}, None),
    ],
)
def test_last_seen(value: object, expected: datetime | None) -> None:
    assert parse_last_seen(value) == expected


def test_newest_event_wins_and_unparseable_scores_are_kept_apart() -> None:
    events = [
        {"timestamp": 2000, "message": "tx=A score 9"},
        {"timestamp": 1000, "message": "tx=A score 5"},  # older, listed later
        {"timestamp": 3000, "message": "tx=B score high"},
        {"timestamp": 1000, "message": "tx=B score 4"},
        {"timestamp": 5000, "ingestionTime": 1, "message": "tx=C 1"},
        {"timestamp": 5000, "ingestionTime": 2, "message": "tx=C 2"},  # same time, ingested later
        {"timestamp": 9000, "message": "tx=AX 77"},  # contains "A" too: the contract's rule
        {"timestamp": 1, "message": ""},
    ]
    result = newest_scores(events, {"A", "B", "C", "D", "AX"})
    assert dict(result.scores) == {"A": 77, "C": 2, "AX": 77}
    assert result.unparseable == {"B"}
    assert result.events_scanned == 8
    plain = newest_scores(events[:4], {"A", "D"})
    assert dict(plain.scores) == {"A": 9}


def test_time_windows_merge_when_they_overlap() -> None:
    base = datetime(2024, 3, 4, tzinfo=UTC)
    hour = timedelta(hours=1)
    ms = int(base.timestamp() * 1000)
    windows = time_windows([base + 1.5 * hour, base, base + 30 * hour], hour)
    assert windows == [
        (ms - 3_600_000, ms + 9_000_000),
        (ms + 29 * 3_600_000, ms + 31 * 3_600_000),
    ]
    assert time_windows([], hour) == []


def test_sample_customers() -> None:
    activity = SampleCustomersLookup().activity(
        ["C-1001", "C-1002", "C-1004", "C-1099", None], table="customer-activity"
    )
    assert dict(activity.last_seen) == {
        "C-1001": datetime(2024, 3, 1, 9, 15, tzinfo=UTC),
        "C-1002": datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        "C-1004": datetime(2024, 3, 2, 9, 0, 0, 500000, tzinfo=UTC),
    }
    with pytest.raises(SourceError, match="sample customers table other does not exist"):
        SampleCustomersLookup().activity(["C-1001"], table="other")


def test_sample_fraud_scores_in_their_windows() -> None:
    lookup = SampleFraudScoresLookup(window_margin_seconds=900)
    transactions = {
        "TX-1002": datetime(2024, 3, 5, 4, 30, tzinfo=UTC),
        "TX-1005": datetime(2024, 3, 5, 8, 0, tzinfo=UTC),
        "TX-1004": datetime(2024, 3, 4, 23, 30, tzinfo=UTC),
    }
    result = lookup.scores(transactions, log_group="/lab/tx-fraud-score")
    assert dict(result.scores) == {"TX-1002": 7}
    assert result.unparseable == {"TX-1005"}
    # The newer TX-1002 event is 11 minutes after the transaction: outside a 5-minute margin.
    narrow = SampleFraudScoresLookup(window_margin_seconds=300).scores(
        {"TX-1002": transactions["TX-1002"]}, log_group="/lab/tx-fraud-score"
    )
    assert dict(narrow.scores) == {"TX-1002": 40}
    assert lookup.scores({}, log_group="/lab/tx-fraud-score").scores == {}
