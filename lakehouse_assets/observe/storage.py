"""Bytes of the lake by layer and kind, so what history costs per day is measured, not guessed.

Kinds: ``current`` (the tables readers see), ``snapshots`` (derived versions kept whole under
``_snapshots/``), ``references`` (versions kept as a reference to an identical one), ``raw``
(everything in the raw bucket: snapshots, landed files), ``other`` (state, manifests). Sizes are
object sizes, what S3 bills; temp files under ``_staging/`` are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse_assets.lake.layout import SNAPSHOT_REFERENCE_PREFIX, STAGING_ROOT, TABLE_FILE
from lakehouse_assets.lake.object_store import LocalObjectStore, ObjectStore
from lakehouse_assets.settings import DEFAULT_BUCKETS, LAYERS

KINDS = ("current", "snapshots", "references", "raw", "other")


def kind_of(layer: str, key: str) -> str:
    """The kind of the object at ``key`` in ``layer``'s bucket."""
    if layer == "raw":
        return "raw"
    parts = key.split("/")
    if "_snapshots" in parts[:-1]:
        name = parts[-1]
        if name == TABLE_FILE:
            return "snapshots"
        if name.startswith(SNAPSHOT_REFERENCE_PREFIX):
            return "references"
        return "other"
    if parts[-1].endswith(".parquet") and not any(p.startswith("_") for p in parts):
        return "current"
    return "other"


@dataclass
class StorageReport:
    """Bytes and object counts by layer, then kind."""

    bytes: dict[str, dict[str, int]] = field(default_factory=dict)
    objects: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, layer: str, kind: str, size: int) -> None:
        self.bytes.setdefault(layer, dict.fromkeys(KINDS, 0))[kind] += size
        self.objects.setdefault(layer, dict.fromkeys(KINDS, 0))[kind] += 1

    def total(self, kind: str | None = None, layer: str | None = None) -> int:
        return sum(
            size
            for name, kinds in self.bytes.items()
            if layer is None or name == layer
            for k, size in kinds.items()
            if kind is None or k == kind
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "bytes": self.bytes,
            "objects": self.objects,
            "total_bytes": self.total(),
            "derived_history_bytes": self.total("snapshots") + self.total("references"),
        }


def measure_store(store: ObjectStore, buckets: Mapping[str, str]) -> StorageReport:
    """One listing of each layer's bucket (``buckets``: layer → bucket name)."""
    report = StorageReport()
    for layer in LAYERS:
        report.bytes.setdefault(layer, dict.fromkeys(KINDS, 0))
        report.objects.setdefault(layer, dict.fromkeys(KINDS, 0))
        bucket = buckets.get(layer)
        if bucket is None:
            continue
        for info in store.list(bucket, ""):
            if info.key.startswith(f"{STAGING_ROOT}/"):
                continue
            report.add(layer, kind_of(layer, info.key), info.size)
    return report


def measure_local_lake(root: Path, buckets: Mapping[str, str] | None = None) -> StorageReport:
    """:func:`measure_store` of the lake under ``root`` (default bucket names unless given)."""
    return measure_store(LocalObjectStore(root), buckets or DEFAULT_BUCKETS)
