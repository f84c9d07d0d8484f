"""Where each table and snapshot lives: the one place paths are derived from asset keys."""

from __future__ import annotations

import re
from dataclasses import dataclass

import dagster as dg

from lakehouse_assets.settings import LAYERS

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TABLE_FILE = "data.parquet"


def validate_name(kind: str, name: str) -> str:
    """Source and dataset names become key segments: keep them to a safe alphabet."""
    if not NAME_PATTERN.match(name):
        raise ValueError(f"{kind} name {name!r} must match {NAME_PATTERN.pattern}")
    return name


@dataclass(frozen=True)
class TableAddress:
    """Asset key ``[layer, source, dataset]`` → ``{source}/{dataset}/`` in the layer's bucket."""

    layer: str
    source: str
    dataset: str

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"layer {self.layer!r} is not one of {', '.join(LAYERS)}")
        validate_name("source", self.source)
        validate_name("dataset", self.dataset)

    @classmethod
    def from_asset_key(cls, key: dg.AssetKey) -> TableAddress:
        if len(key.path) != 3:
            raise ValueError(f"asset key {key.to_user_string()} is not [layer, source, dataset]")
        layer, source, dataset = key.path
        return cls(layer, source, dataset)

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey([self.layer, self.source, self.dataset])

    @property
    def prefix(self) -> str:
        return f"{self.source}/{self.dataset}/"

    def table_key(self, partition: str | None = None) -> str:
        """One Parquet object per table (or per partition): replacing it is one atomic put."""
        if partition is None:
            return f"{self.prefix}{TABLE_FILE}"
        return f"{self.prefix}{partition}/{TABLE_FILE}"

    @property
    def snapshots_prefix(self) -> str:
        return f"{self.prefix}_snapshots/"

    def snapshot_key(self, partition: str) -> str:
        """A whole version of the table, kept beside the current one (see the IO manager)."""
        return f"{self.snapshots_prefix}{partition}/{TABLE_FILE}"

    @property
    def label(self) -> str:
        return f"{self.layer} {self.source}/{self.dataset}"
