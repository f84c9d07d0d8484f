"""A source's declaration: its name, owners and the defaults every one of its assets shares.

One source is one asset group (one pipeline in the UI), one concurrency pool (a deployment lets
one run of a source hold it at a time), and one ``source`` tag (the run queue's limit).
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    owners: tuple[str, ...] = DEFAULT_OWNERS

    def __post_init__(self) -> None:
        validate_name("source", self.name)

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
        return {
            "group_name": self.name,
            "owners": list(self.owners),
            "pool": self.pool,
            "tags": self.tags(layer, **tags),
            "kinds": set(kinds if kinds is not None else LAYER_KINDS[layer]),
        }
