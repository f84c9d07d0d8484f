"""``lakehouse schema SOURCE/DATASET``: how a dataset's schema changed, layer by layer.

Every table the lake publishes records its column schema on its materialization, so the event
log already holds each dataset's schema history; this reads it back and keeps the versions:
each distinct schema with when it was first and last seen, and what changed from the one before
(columns added, removed, retyped).
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
        if versions and versions[-1].columns == columns:
            versions[-1].last_seen = moment
            versions[-1].materializations += 1
            continue
        version = SchemaVersion(columns, moment, moment, materialization.partition)
        if versions:
            before = versions[-1].columns
            version.added = [c for c in columns if c not in before]
            version.removed = [c for c in before if c not in columns]
            version.retyped = [c for c in columns if c in before and before[c] != columns[c]]
        versions.append(version)
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
    sys.stdout.write(render(source, dataset, histories))
    return 0
