"""Unchanged input, no recomputation: a layer whose input is the same as the one behind its
current table keeps that table instead of building it again.

Endpoints serve whole tables every day, and most days some of them (posts, terms) come back
byte for byte as the day before: their bronze and silver would be the same rows again, and gold
the same join. Each bronze, silver and gold materialization records a *fingerprint* of what it
was built from: the SHA-256 of the raw snapshot's bytes (bronze), of the upstream fingerprints
(silver, gold), each combined with the code that builds the layer (the source of the modules
named, so a new release or a changed dataset declaration recomputes). A step whose fingerprint
equals the one recorded on the current table's materialization returns a
:class:`~lakehouse_assets.lake.table_files.CurrentTable`: the IO manager keeps the current table
and records this partition's history entry as that table, and the materialization says so
(``reused_from_partition``).

Only ingestion metadata (``_ingested_at``, ``_raw_snapshot``: columns starting with ``_``) can
then differ from a rebuild: the kept rows name the identical snapshot that first brought them.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import dagster as dg

from lakehouse_assets import settings
from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.object_store import ObjectInfo
from lakehouse_assets.lake.table_files import CurrentTable
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.resources.lake import LakeResource

#: Metadata key of a bronze, silver or gold materialization: what it was built from.
INPUT_FINGERPRINT = "input_fingerprint"
#: Metadata key of a materialization that kept the current table: the partition that built it.
REUSED_FROM = "reused_from_partition"
#: Metadata the IO manager records on a snapshot partition that became the current table.
IS_CURRENT = "is_current_table"
#: Raw materializations record their snapshot's key and SHA-256 under these keys.
RAW_SNAPSHOT_KEY = "snapshot_key"
RAW_SHA256 = "sha256"
#: What a kept table's materialization repeats from the one that built it: what the next
#: day's incremental build starts from (the raw snapshot behind bronze, silver's report).
CARRIED_FORWARD = ("raw_snapshot", "silver_report")
#: How many recent materializations are searched for the one behind the current table.
HISTORY_SEARCHED = 50


def fingerprint(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


@cache
def code_version(*modules: ModuleType) -> str:
    """SHA-256 of the source of ``modules``: any change to the code that builds a layer makes
    every fingerprint new, so nothing stale is kept."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    for module in modules:
        try:
            digest.update(inspect.getsource(module).encode())
        except (OSError, TypeError):  # no source shipped (a frozen build): the release decides
            try:
                digest.update(f"{module.__name__} {version('lakehouse_assets')}".encode())
            except PackageNotFoundError:  # nothing tells the code apart: never reuse
                digest.update(os.urandom(16))
    return digest.hexdigest()


def schema_signature(schema: DatasetSchema) -> str:
    return repr(schema)


def raw_fingerprint(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    raw_key: dg.AssetKey,
    snapshot: ObjectInfo,
) -> str:
    """The SHA-256 of the raw snapshot's bytes: as its raw step recorded it, else computed."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=raw_key, asset_partitions=[context.partition_key]),
        limit=HISTORY_SEARCHED,
    ).records
    for record in records:
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        key, sha = metadata.get(RAW_SNAPSHOT_KEY), metadata.get(RAW_SHA256)
        if key is not None and sha is not None and key.value == snapshot.key:
            return str(sha.value)
    return lake.object_store().sha256(lake.bucket("raw"), snapshot.key)


def upstream_values(context: dg.AssetExecutionContext, key: dg.AssetKey) -> Mapping[str, object]:
    """The metadata ``key``'s materialization of this partition recorded (this run's if it ran
    in this run), as plain values; empty when there is none."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[context.partition_key]),
        limit=HISTORY_SEARCHED,
    ).records
    ours = [r for r in records if r.run_id == context.run.run_id] or records[:1]
    for record in ours:
        if record.asset_materialization is not None:
            return {n: v.value for n, v in record.asset_materialization.metadata.items()}
    return {}


def upstream_fingerprint(context: dg.AssetExecutionContext, key: dg.AssetKey) -> str | None:
    """The fingerprint ``key``'s materialization of this partition recorded, or None."""
    value = upstream_values(context, key).get(INPUT_FINGERPRINT)
    return None if value is None else str(value)


@dataclass(frozen=True)
class CurrentBuild:
    """The materialization behind an asset's current table."""

    partition: str
    fingerprint: str
    #: The materialization's metadata values (what it recorded about how it was built).
    values: Mapping[str, object]


def current_build(instance: dg.DagsterInstance, key: dg.AssetKey) -> CurrentBuild | None:
    """The newest materialization that became the current table, with its fingerprint."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key), limit=HISTORY_SEARCHED
    ).records
    for record in records:
        materialization = record.asset_materialization
        if materialization is None or materialization.partition is None:
            continue
        metadata = materialization.metadata
        current = metadata.get(IS_CURRENT)
        if current is None or current.value is not True:
            continue
        value = metadata.get(INPUT_FINGERPRINT)
        if value is None:
            return None
        values = {name: entry.value for name, entry in metadata.items()}
        return CurrentBuild(materialization.partition, str(value.value), values)
    return None


def reusable(
    context: dg.AssetExecutionContext, lake: LakeResource, key: dg.AssetKey, built_from: str
) -> CurrentBuild | None:
    """The current table's build when this step would build it again from the same input,
    for a partition that becomes (or already is) the current one; else None."""
    current = current_base(context, lake, key)
    if current is None or current.fingerprint != built_from:
        return None
    return current


def current_base(
    context: dg.AssetExecutionContext, lake: LakeResource, key: dg.AssetKey
) -> CurrentBuild | None:
    """The build of the current table this step's output would replace (None for a backfill
    of an older day, which rebuilds its own history entry, for a full refresh, or when there is
    no table)."""
    if not context.has_partition_key or settings.full_refresh(context.run.tags):
        return None
    current = current_build(context.instance, key)
    if current is None or context.partition_key < current.partition:
        return None
    address = TableAddress.from_asset_key(key)
    table = lake.object_store().listed(lake.bucket(address.layer), address.table_key())
    if table is None:
        return None
    recorded = current.values.get("size_bytes")
    if isinstance(recorded, int) and recorded != table.size:
        return None  # the table is not the one that build published (a run killed in between)
    return current


def kept_current_table(
    context: dg.AssetExecutionContext,
    key: dg.AssetKey,
    current: CurrentBuild,
    built_from: str,
    checks: Mapping[str, dg.AssetCheckResult] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Iterator[object]:
    """What a step yields instead of rebuilding: every check of the asset as passed on the kept
    table (it passed them when it was built) unless ``checks`` gives its result, then the
    output that keeps it (with ``metadata``)."""
    why = f"input unchanged since {current.partition}: the table built then (which passed) is kept"
    context.log.info(f"{key.to_user_string()}: {why}")
    for spec in context.assets_def.check_specs:
        if checks and spec.name in checks:
            yield checks[spec.name]
            continue
        yield dg.AssetCheckResult(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=True,
            description=why,
            metadata={REUSED_FROM: current.partition},
        )
    carried = {
        name: dg.MetadataValue.json(value) if isinstance(value, (dict, list)) else value
        for name, value in current.values.items()
        if name in CARRIED_FORWARD
    }
    yield dg.Output(
        CurrentTable(),
        metadata={
            **carried,  # type: ignore[dict-item]
            **(metadata or {}),
            INPUT_FINGERPRINT: built_from,
            REUSED_FROM: current.partition,
        },
    )
