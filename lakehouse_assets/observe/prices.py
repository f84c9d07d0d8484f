"""What counted usage costs, from the one price table ``prices.json`` beside this module.

The table is dated public list prices per region (a region not listed uses ``default``), in
USD per request, keyed exactly as ``observe/usage.py`` counts. It estimates the requests a run
makes; it leaves out storage, data transfer and the compute the runs themselves use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PRICE_TABLE = Path(__file__).with_name("prices.json")
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    region: str
    prices: Mapping[str, float]

    def cost(self, usage: Mapping[str, int]) -> float:
        """Estimated USD of ``usage``; keys without a price (HTTP, bytes) cost nothing here."""
        return sum(self.prices.get(key, 0.0) * count for key, count in usage.items())


@cache
def _table() -> dict[str, object]:
    return json.loads(PRICE_TABLE.read_text(encoding="utf-8"))


def price_table(region: str | None = None) -> PriceTable:
    table = _table()
    regions: dict[str, dict[str, float]] = table["regions"]  # type: ignore[assignment]
    chosen = region or DEFAULT_REGION
    prices = {**regions["default"], **regions.get(chosen, {})}
    return PriceTable(str(table["as_of"]), chosen, prices)
