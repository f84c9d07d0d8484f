"""``lakehouse schema SOURCE/DATASET``: how a dataset's schema changed, layer by layer.

Every table the lake publishes records its column schema on its materialization, so the event
log already holds each dataset's schema history; this reads it back and keeps the versions:
each distinct schema with when it was first and last seen, and what changed from the one before
(columns added, removed, retyped). Each bronze version is marked with what silver made of its
snapshots: accepted (published) or blocked (a failed check, e.g. a breaking schema drift, see
``medallion/drift.py``); every silver version is an accepted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg

LAYERS = ("bronze", "silver", "gold")
MAX_EVENTS = 10_000


@dataclass
class SchemaVersion:
    columns: dict[str, str]
    first_seen: datetime
    last_seen: datetime
    first_partition: str | None
    materializations: int = 1
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)
    #: The raw snapshots (or landed files) of its materializations.
    snapshots: list[str] = field(default_factory=list)
    accepted: int = 0
    blocked: int = 0
    blocked_by: list[str] = field(default_factory=list)


def _columns(metadata: dict[str, Any]) -> dict[str, str] | None:
    value = metadata.get("dagster/column_schema")
    schema = getattr(value, "value", None) or getattr(value, "schema", None)
    if schema is None:
        return None
    return {column.name: column.type for column in schema.columns}


def schema_history(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[SchemaVersion]:
    """The distinct schemas of ``key``'s materializations, oldest first."""
    records = instance.fetch_materializations(key, limit=MAX_EVENTS, ascending=True).records
    versions: list[SchemaVersion] = []
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        columns = _columns(dict(materialization.metadata))
        if columns is None:
            continue
        moment = datetime.fromtimestamp(record.timestamp, UTC)
        snapshot = _text(materialization.metadata.get("raw_snapshot"))
        if versions and versions[-1].columns == columns:
            versions[-1].last_seen = moment
            versions[-1].materializations += 1
            versions[-1].snapshots += [snapshot] if snapshot else []
            continue
        version = SchemaVersion(columns, moment, moment, materialization.partition)
        version.snapshots += [snapshot] if snapshot else []
        if versions:
            before = versions[-1].columns
            version.added = [c for c in columns if c not in before]
            version.removed = [c for c in before if c not in columns]
            version.retyped = [c for c in columns if c in before and before[c] != columns[c]]
        versions.append(version)
    return versions


def _text(value: Any) -> str:
    raw = getattr(value, "value", value)
    return raw if isinstance(raw, str) else ""


def silver_verdicts(
    instance: dg.DagsterInstance, key: dg.AssetKey
) -> dict[str, tuple[str, list[str]]]:
    """Raw snapshot → (``accepted`` | ``blocked``, failed checks) as silver ``key`` recorded it
    (its materializations and its ``schema_status: blocked`` observations; the later wins)."""
    events: list[tuple[float, str, str, list[str]]] = []
    for record in instance.fetch_materializations(key, limit=MAX_EVENTS).records:
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        snapshot = _text(metadata.get("raw_snapshot"))
        if snapshot:
            events.append((record.timestamp, snapshot, "accepted", []))
    for record in instance.fetch_observations(key, limit=MAX_EVENTS).records:
        observation = record.asset_observation
        metadata = observation.metadata if observation else {}
        snapshot = _text(metadata.get("raw_snapshot"))
        if snapshot and _text(metadata.get("schema_status")) == "blocked":
            checks = [c for c in _text(metadata.get("failed_checks")).split(", ") if c]
            events.append((record.timestamp, snapshot, "blocked", checks))
    return {snapshot: (status, checks) for _, snapshot, status, checks in sorted(events)}


def mark_verdicts(
    versions: list[SchemaVersion], verdicts: dict[str, tuple[str, list[str]]]
) -> list[SchemaVersion]:
    """Count, per version, the snapshots silver accepted and those it blocked (and by what)."""
    for version in versions:
        for snapshot in dict.fromkeys(version.snapshots):
            status, checks = verdicts.get(snapshot, ("", []))
            if status == "accepted":
                version.accepted += 1
            elif status == "blocked":
                version.blocked += 1
                version.blocked_by += [c for c in checks if c not in version.blocked_by]
    return versions


def render(source: str, dataset: str, histories: dict[str, list[SchemaVersion]]) -> str:
    lines = []
    for layer, versions in histories.items():
        if not versions:
            continue
        lines.append(f"{layer}/{source}/{dataset}: {len(versions)} schema version(s)")
        for number, version in enumerate(versions, start=1):
            seen = f"{version.first_seen:%Y-%m-%d %H:%M} … {version.last_seen:%Y-%m-%d %H:%M}"
            partition = (
                f", from partition {version.first_partition}" if version.first_partition else ""
            )
            lines.append(
                f"  v{number}: {len(version.columns)} columns, {version.materializations} "
                f"materialization(s), {seen} UTC{partition}"
            )
            if number == 1:
                lines.append("    " + ", ".join(f"{c} {t}" for c, t in version.columns.items()))
            if layer == "silver":
                lines.append("    status: accepted (published)")
            elif version.accepted or version.blocked:
                status = "accepted" if version.accepted and not version.blocked else "blocked"
                if version.accepted and version.blocked:
                    status = "accepted and blocked"
                lines.append(
                    f"    status: {status} in silver ({version.accepted} snapshot(s) accepted, "
                    f"{version.blocked} blocked"
                    + (f" by {', '.join(version.blocked_by)}" if version.blocked_by else "")
                    + ")"
                )
            for label, names in (
                ("added", version.added),
                ("removed", version.removed),
                ("retyped", version.retyped),
            ):
                if names:
                    described = ", ".join(
                        f"{n} {version.columns.get(n, '')}".strip() for n in names
                    )
                    lines.append(f"    {label}: {described}")
    if not lines:
        return f"{source}/{dataset}: no materialization with a schema yet\n"
    return "\n".join(lines) + "\n"


def run_schema(target: str) -> int:
    """Print the schema history of ``SOURCE/DATASET`` in every layer that has one."""
    import sys

    from lakehouse_assets.dagster_home import dagster_home

    source, _, dataset = target.partition("/")
    if not source or not dataset or "/" in dataset:
        raise ValueError(f"{target!r}: name a dataset as SOURCE/DATASET (e.g. itunes/tracks)")
    dagster_home()
    with dg.DagsterInstance.get() as instance:
        histories = {
            layer: schema_history(instance, dg.AssetKey([layer, source, dataset]))
            for layer in LAYERS
        }
        verdicts = silver_verdicts(instance, dg.AssetKey(["silver", source, dataset]))
        mark_verdicts(histories["bronze"], verdicts)
    sys.stdout.write(render(source, dataset, histories))
    return 0
