"""A source's declaration: its name, owners and the defaults every one of its assets shares.

One source is one asset group (one pipeline in the UI), one concurrency pool (a deployment lets
one run of a source hold it at a time), and one ``source`` tag (the run queue's limit).
Its freshness SLA (``freshness``: how old its silver and gold tables may get) becomes each
of those assets' ``dg.FreshnessPolicy``; ``automation/freshness.py`` alerts a breach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dagster as dg

from lakehouse_assets.lake.layout import validate_name

DEFAULT_OWNERS = ("team:data-engineering",)
#: What each layer's assets are stored as, shown as kinds (icons) in the UI.
LAYER_KINDS = {
    "raw": ("raw",),
    "bronze": ("parquet", "duckdb", "bronze"),
    "silver": ("parquet", "duckdb", "silver"),
    "gold": ("parquet", "duckdb", "gold"),
}
#: The layers users read, so the layers a freshness SLA applies to.
SLA_LAYERS = ("silver", "gold")


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    owners: tuple[str, ...] = DEFAULT_OWNERS
    #: Longest a silver or gold table may go without a new materialization (None: no SLA).
    freshness: timedelta | None = None

    def __post_init__(self) -> None:
        validate_name("source", self.name)

    def freshness_policy(self, layer: str) -> dg.FreshnessPolicy | None:
        if self.freshness is None or layer not in SLA_LAYERS:
            return None
        return dg.FreshnessPolicy.time_window(fail_window=self.freshness)

    @property
    def pool(self) -> str:
        return self.name

    def key(self, layer: str, dataset: str) -> dg.AssetKey:
        return dg.AssetKey([layer, self.name, dataset])

    def tags(self, layer: str, **extra: str) -> dict[str, str]:
        return {"layer": layer, "source": self.name, **extra}

    def asset_options(
        self, layer: str, *, kinds: tuple[str, ...] | None = None, **tags: str
    ) -> dict[str, Any]:
        """Keyword arguments every asset of this source passes to ``dg.asset``."""
        options: dict[str, Any] = {
            "group_name": self.name,
            "owners": list(self.owners),
            "pool": self.pool,
            "tags": self.tags(layer, **tags),
            "kinds": set(kinds if kinds is not None else LAYER_KINDS[layer]),
        }
        policy = self.freshness_policy(layer)
        if policy is not None:
            options["freshness_policy"] = policy
        return options
