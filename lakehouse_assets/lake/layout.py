"""Where everything lives in the lake: the one module that derives storage paths.

- tables: asset key ``[layer, source, dataset]`` → ``{source}/{dataset}/`` in the layer's bucket;
- their history: ``{source}/{dataset}/_snapshots/{partition}/`` holding either the partition's
  ``data.parquet`` or a reference ``_same_as_{other partition}.json`` to an identical one;
- raw snapshots: ``{source}/{dataset}/ingest_date={partition}/{dataset}_{UTC stamp}_{run}.json``
  in the raw bucket, sorting by partition, then time;
- landed files: ``landing/{source}/{dataset}/…``, bad ones copied to ``quarantine/…``;
- work in progress: ``_staging/`` at a bucket's root, hidden from every Parquet reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from lakehouse_assets.settings import LAYERS

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TABLE_FILE = "data.parquet"
SNAPSHOT_REFERENCE_PREFIX = "_same_as_"
_PARTITION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:+-]{0,99}$")


def _snapshot_partition(partition: str) -> str:
    """A partition key as a key segment (dates and weeks; nothing that could nest or escape)."""
    if not _PARTITION_PATTERN.match(partition):
        raise ValueError(f"unsafe snapshot partition key {partition!r}")
    return partition


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
        return f"{self.snapshots_prefix}{_snapshot_partition(partition)}/{TABLE_FILE}"

    def snapshot_reference_key(self, partition: str, same_as: str) -> str:
        """A partition whose version is byte-identical to partition ``same_as``'s: no second
        copy, this small JSON instead. The target is in the key, so one listing of the history
        shows every reference; the name starts with ``_`` so it sorts before ``data.parquet``
        (code comparing keys to find the newest partition still finds the right one)."""
        return (
            f"{self.snapshots_prefix}{_snapshot_partition(partition)}/"
            f"{SNAPSHOT_REFERENCE_PREFIX}{_snapshot_partition(same_as)}.json"
        )

    def parse_snapshot_key(self, key: str) -> tuple[str, str | None] | None:
        """(partition, referenced partition or None for the partition's own table) of a key
        under :attr:`snapshots_prefix`; None for anything else."""
        if not key.startswith(self.snapshots_prefix):
            return None
        partition, _, name = key[len(self.snapshots_prefix) :].partition("/")
        if not partition or "/" in name:
            return None
        if name == TABLE_FILE:
            return partition, None
        if name.startswith(SNAPSHOT_REFERENCE_PREFIX) and name.endswith(".json"):
            target = name[len(SNAPSHOT_REFERENCE_PREFIX) : -len(".json")]
            return (partition, target) if target else None
        return None

    @property
    def label(self) -> str:
        return f"{self.layer} {self.source}/{self.dataset}"


STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
RAW_KEY_PATTERN = re.compile(r"_(?P<stamp>\d{8}T\d{12}Z)_[0-9a-z]+\.json$")
LANDING_ROOT = "landing"
QUARANTINE_ROOT = "quarantine"
REASON_SUFFIX = ".reason.json"
#: Temporary objects of a store, at a bucket's root: a ``_`` folder no reader of a table sees.
STAGING_ROOT = "_staging"


def raw_snapshot_prefix(source: str, dataset: str, partition: str | None = None) -> str:
    prefix = f"{source}/{dataset}/ingest_date="
    return prefix if partition is None else f"{prefix}{partition}/"


def raw_snapshot_key(
    source: str, dataset: str, partition: str, moment: datetime, run_id: str
) -> str:
    """Key of a new raw snapshot of ``partition`` fetched at ``moment`` (never overwritten)."""
    moment = moment.astimezone(UTC)
    run = re.sub(r"[^0-9a-z]", "", run_id.lower())[:8] or "local"
    return (
        f"{raw_snapshot_prefix(source, dataset, partition)}"
        f"{dataset}_{moment.strftime(STAMP_FORMAT)}_{run}.json"
    )


#: Beside a raw snapshot of pages: where each page lies in it and its digest (JSON).
PAGE_INDEX_SUFFIX = ".pages"


def page_index_key(snapshot_key: str) -> str:
    """``{snapshot}.pages``: the page index of a raw snapshot (not a snapshot itself)."""
    return f"{snapshot_key}{PAGE_INDEX_SUFFIX}"


def ingested_at(key: str) -> datetime | None:
    """When the raw snapshot at ``key`` was fetched (from its key)."""
    match = RAW_KEY_PATTERN.search(key)
    if not match:
        return None
    return datetime.strptime(match.group("stamp"), STAMP_FORMAT).replace(tzinfo=UTC)


def landing_prefix(source: str, dataset: str) -> str:
    return f"{LANDING_ROOT}/{validate_name('source', source)}/{validate_name('dataset', dataset)}/"


def quarantine_prefix(source: str, dataset: str) -> str:
    return f"{QUARANTINE_ROOT}/{source}/{dataset}/"


def quarantine_keys(source: str, dataset: str, relative_key: str) -> tuple[str, str]:
    """(copy of the bad file, its reason) for a file landed at ``relative_key`` under landing."""
    copy = f"{quarantine_prefix(source, dataset)}{relative_key}"
    return copy, f"{copy}{REASON_SUFFIX}"


#: Batch manifests of landed files, at the raw bucket's root (not under ``landing/``).
BATCHES_ROOT = "_batches"
#: Incremental state of a table, beside its source's tables (outside every table prefix: DuckDB
#: globs ``{prefix}**/*.parquet`` do not skip ``_`` folders inside one).
STATE_ROOT = "_state"


def batch_manifest_prefix(source: str) -> str:
    return f"{BATCHES_ROOT}/{validate_name('source', source)}/"


def batch_manifest_key(source: str, batch_id: str) -> str:
    """One immutable manifest per batch of landed object versions (its id sorts by time)."""
    return f"{batch_manifest_prefix(source)}{batch_id}.json"


def table_state_key(address: TableAddress) -> str:
    """``{source}/_state/{dataset}/state.parquet`` in the table's bucket: what an incremental
    table needs to merge the next batch, replaced in one atomic put."""
    return f"{address.source}/{STATE_ROOT}/{address.dataset}/state.parquet"


def hive_partition_prefix(address: TableAddress, column: str, value: str) -> str:
    """``{source}/{dataset}/{column}={value}/``: a Hive partition of a partitioned table."""
    if "/" in value or "=" in value or not value:
        raise ValueError(f"unsafe partition value {value!r}")
    return f"{address.prefix}{column}={value}/"


def hive_partition_key(address: TableAddress, column: str, value: str) -> str:
    """The partition's one Parquet object: replacing it is one atomic put."""
    return f"{hive_partition_prefix(address, column, value)}{TABLE_FILE}"


def snapshot_quarantine_keys(source: str, dataset: str, snapshot_key: str) -> tuple[str, str]:
    """(copy, reason) of a raw snapshot whose schema drift blocked silver: the copy is
    ``quarantine/{source}/{dataset}/{snapshot file name}`` in the raw bucket (raw itself is
    never touched)."""
    return quarantine_keys(source, dataset, snapshot_key.rsplit("/", 1)[-1])


def drift_alert_marker_key(
    source: str, dataset: str, snapshot_key: str, fingerprint: str, check: str
) -> str:
    """Beside the quarantined copy: proof that the drift ``check`` found in the snapshot whose
    content hashes to ``fingerprint`` was alerted (one alert per snapshot and check)."""
    copy, _ = snapshot_quarantine_keys(source, dataset, snapshot_key)
    safe = re.sub(r"[^0-9a-z]", "", fingerprint.lower())[:16] or "unknown"
    return f"{copy}.{validate_name('check', check)}.{safe}.alerted.json"
