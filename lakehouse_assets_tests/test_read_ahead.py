"""read_ahead hands on every item in order, the producer's error, and stops with its consumer."""

from __future__ import annotations

from typing import Any

import pytest

from lakehouse_assets.read_ahead import read_ahead


def test_read_ahead_hands_on_items_and_the_producers_error() -> None:
    assert list(read_ahead(iter(range(100)))) == list(range(100))

    def failing() -> Any:
        yield 1
        raise ValueError("producer broke")

    seen = []
    with pytest.raises(ValueError, match="producer broke"):
        for item in read_ahead(failing()):
            seen.append(item)
    assert seen == [1]


def test_read_ahead_stops_its_producer_when_the_consumer_stops() -> None:
    produced = []

    def endless() -> Any:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    for item in read_ahead(endless(), depth=2):
        if item == 3:
            break
    count = len(produced)
    assert count <= 3 + 1 + 2 + 1  # the consumer's items, the queue, one in hand
    assert len(produced) == count  # and nothing more after the stop
