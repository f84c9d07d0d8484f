"""Schema contracts with drift detection: what each ingestion brings, compared with the dataset's
declared contract and with the last accepted schema.

- Additive changes (a new column) are accepted into bronze and reported: ``schema_change``
  metadata (added / removed / retyped against the last accepted schema) and the non-blocking
  ``schema_drift`` check (severity WARN), which passes and names the change. No alert: an
  accepted change is not something to act on, and a topic that cries wolf is muted.
- Breaking changes (a declared column missing, a type that no longer parses, a key that stops
  being unique) are caught by silver's blocking checks (:mod:`.checks`), whose descriptions
  name the drift against the last accepted schema. Silver then keeps its last good table,
  copies the offending raw snapshot to ``quarantine/{source}/{dataset}/`` in the raw bucket with
  a ``.reason.json`` (raw itself stays immutable) and alerts the silver topic once per snapshot
  content (sha256) and check: a marker beside the quarantined copy remembers the alert, so step
  retries and reruns of the same snapshot send none again (and the run-failure alert for a run
  blocked only by an alerted drift is not sent either, see ``automation/alerts.py``).

"Accepted" is recorded where every reader already looks, the event log: a silver
materialization carries the bronze schema it accepted (``bronze_schema``) and its raw snapshot;
a blocked silver step records an observation with ``schema_status: blocked``. Landed files
(no silver in between) are accepted by their bronze materialization, which carries the columns
the file arrived with (``source_schema``). ``lakehouse schema`` reads these back.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from lakehouse_assets.automation.alerts import (
    DRIFT_ALERT_METADATA,
)
from lakehouse_assets.lake.layout import drift_alert_marker_key, snapshot_quarantine_keys
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.resources.lake import LakeResource

if TYPE_CHECKING:
    import pyarrow as pa

DRIFT_CHECK = "schema_drift"
DRIFT_DESCRIPTION = (
    "Reports how the arriving columns differ from the last accepted schema (added, removed, "
    "retyped). Non-blocking: additive changes are accepted; breaking ones are blocked by "
    "silver's checks."
)
#: Silver checks whose failure is a breaking schema change: the snapshot is quarantined.
BREAKING_CHECKS = ("expected_columns", "typed_integers", "parseable_dates", "unique_non_null_keys")

#: Metadata keys (materializations, observations, check results).
SCHEMA_CHANGE = "schema_change"
SCHEMA_STATUS = "schema_status"
BRONZE_SCHEMA = "bronze_schema"
SOURCE_SCHEMA = "source_schema"
RAW_SNAPSHOT = "raw_snapshot"
DRIFT_ALERT = DRIFT_ALERT_METADATA
QUARANTINE_KEY = "quarantine_key"
ACCEPTED = "accepted"
BLOCKED = "blocked"


def columns_of(schema: pa.Schema, ingestion: Sequence[str] = ()) -> dict[str, str]:
    """A table's data columns → type (ingestion columns, ``_``-prefixed or named, left out)."""
    return {
        f.name: str(f.type)
        for f in schema
        if not f.name.startswith("_") and f.name not in ingestion
    }


@dataclass(frozen=True)
class AcceptedSchema:
    """The columns of the newest ingestion a table accepted, and where they came from."""

    columns: dict[str, str]
    #: The raw snapshot (or landed file) they arrived in, when known.
    origin: str | None = None
    #: The typed table's columns (silver), when the accepting table types them.
    typed: dict[str, str] = field(default_factory=dict)


def _json_value(value: Any) -> Any:
    raw = getattr(value, "value", value)
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _table_columns(metadata: Mapping[str, Any]) -> dict[str, str]:
    value = metadata.get("dagster/column_schema")
    schema = getattr(value, "value", None) or getattr(value, "schema", None)
    if schema is None:
        return {}
    return {c.name: c.type for c in schema.columns}


def accepted_of(metadata: Mapping[str, Any], recorded_as: str | None) -> AcceptedSchema | None:
    """What one materialization accepted: the columns recorded under ``recorded_as``, or (with
    None) its table's own columns; None when it recorded neither."""
    typed = _table_columns(metadata)
    if recorded_as is not None:
        columns = _json_value(metadata.get(recorded_as))
        if not isinstance(columns, dict):
            return None
    else:
        columns = {c: t for c, t in typed.items() if not c.startswith("_")}
        if not columns:
            return None
    origin = _json_value(metadata.get(RAW_SNAPSHOT)) or _json_value(metadata.get("source_etag"))
    return AcceptedSchema(
        {str(k): str(v) for k, v in columns.items()},
        str(origin) if origin else None,
        typed if recorded_as == BRONZE_SCHEMA else {},
    )


def last_accepted(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    recorded_as: str | None,
    *,
    exclude_run_id: str | None = None,
) -> AcceptedSchema | None:
    """The schema the newest materialization of ``key`` accepted (any partition), ignoring the
    run ``exclude_run_id`` (the one asking)."""
    for record in instance.fetch_materializations(key, limit=5).records:
        if record.run_id == exclude_run_id or record.asset_materialization is None:
            continue
        return accepted_of(dict(record.asset_materialization.metadata), recorded_as)
    return None


@dataclass(frozen=True)
class SchemaChange:
    """Arriving columns against the last accepted ones and against the declared contract."""

    added: dict[str, str]
    removed: dict[str, str]
    retyped: dict[str, tuple[str, str]]
    #: Declared columns the ingestion lacks (a breaking change, whatever was accepted before).
    missing_declared: list[str]
    #: The accepted ingestion compared with (None: nothing accepted yet).
    baseline: str | None
    first: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped or self.missing_declared)

    def metadata(self) -> dg.JsonMetadataValue:
        return dg.MetadataValue.json(
            {
                "compared_with": self.baseline or ("nothing accepted yet" if self.first else None),
                "added": self.added,
                "removed": self.removed,
                "retyped": {c: {"was": a, "now": b} for c, (a, b) in self.retyped.items()},
                "missing_declared": self.missing_declared,
            }
        )

    def describe(self) -> str:
        if self.first:
            return "first accepted schema of this dataset"
        parts = []
        if self.added:
            parts.append("added " + ", ".join(f"{c} ({t})" for c, t in self.added.items()))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if self.retyped:
            parts.append(
                "retyped " + ", ".join(f"{c} ({a} → {b})" for c, (a, b) in self.retyped.items())
            )
        if self.missing_declared:
            parts.append("declared column(s) missing: " + ", ".join(self.missing_declared))
        against = f" (compared with the last accepted schema, from {self.baseline})"
        if not parts:
            return "no change from the last accepted schema" + against
        return "; ".join(parts) + against


def compare(
    columns: Mapping[str, str], baseline: AcceptedSchema | None, dataset: DatasetSchema
) -> SchemaChange:
    missing = [c for c in dataset.column_names if c not in columns]
    if baseline is None:
        return SchemaChange({}, {}, {}, missing, None, first=True)
    before = baseline.columns
    return SchemaChange(
        added={c: t for c, t in columns.items() if c not in before},
        removed={c: t for c, t in before.items() if c not in columns},
        retyped={c: (before[c], t) for c, t in columns.items() if c in before and before[c] != t},
        missing_declared=missing,
        baseline=baseline.origin or "the previous materialization",
    )


def drift_check_spec(
    key: dg.AssetKey, partitions: dg.PartitionsDefinition | None
) -> dg.AssetCheckSpec:
    """The non-blocking ``schema_drift`` check (partitioned like its asset)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset=key,
            description=DRIFT_DESCRIPTION,
            blocking=False,
            partitions_def=partitions,
        )


def drift_check_result(key: dg.AssetKey, change: SchemaChange) -> dg.AssetCheckResult:
    """Passes (severity WARN): the change is reported, never blocked, here."""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=DRIFT_CHECK,
        passed=True,
        severity=dg.AssetCheckSeverity.WARN,
        description=change.describe(),
        metadata={
            SCHEMA_CHANGE: change.metadata(),
            "added": ", ".join(change.added) or "none",
            "removed": ", ".join(change.removed) or "none",
            "retyped": ", ".join(change.retyped) or "none",
        },
    )


def schema_json(columns: Mapping[str, str]) -> dg.JsonMetadataValue:
    return dg.MetadataValue.json(dict(columns))


def bronze_snapshot(path: Path) -> str | None:
    """The raw snapshot a bronze file was made from (its constant ``_raw_snapshot`` column)."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if "_raw_snapshot" not in parquet.schema_arrow.names or parquet.metadata.num_rows == 0:
        return None
    for batch in parquet.iter_batches(batch_size=1, columns=["_raw_snapshot"]):
        value = batch.column(0)[0].as_py()
        return str(value) if value else None
    return None


def breaking(results: Sequence[dg.AssetCheckResult]) -> list[dg.AssetCheckResult]:
    return [r for r in results if not r.passed and r.check_name in BREAKING_CHECKS]


@dataclass(frozen=True)
class DriftQuarantine:
    copy_key: str
    reason_key: str
    #: check name → its alert marker (the alert was sent now or by an earlier run).
    markers: dict[str, str]
    alerted_now: list[str]


def _put_json(lake: LakeResource, bucket: str, key: str, value: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="lakehouse-drift-") as directory:
        path = Path(directory) / "value.json"
        path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        lake.object_store().put_file(bucket, key, path)


def quarantine_drifted_snapshot(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    key: dg.AssetKey,
    snapshot_key: str,
    failed: Sequence[dg.AssetCheckResult],
    change: SchemaChange | None,
) -> DriftQuarantine:
    """Copy the snapshot to quarantine with its reason (once), and mark each failed check as
    alerted for this snapshot's content: the run's failure alert is the one alert."""
    from lakehouse_assets.lake.s3_object_store import file_sha256

    layer, source, dataset = key.path
    store = lake.object_store()
    bucket = lake.bucket("raw")
    copy_key, reason_key = snapshot_quarantine_keys(source, dataset, snapshot_key)
    partition = context.partition_key if context.has_partition_key else None
    info = store.info(bucket, snapshot_key)
    with store.local_copy(bucket, snapshot_key) as path:
        sha256 = file_sha256(path)
        if store.info(bucket, copy_key) is None:
            store.put_file(bucket, copy_key, path)
    drift = {str(r.check_name): r.description or "" for r in failed}
    reason_text = "; ".join(f"{name}: {text}" for name, text in drift.items())
    reason = {
        "reason": f"schema drift blocked {layer}: {reason_text}",
        "asset": key.to_user_string(),
        "partition": partition,
        "failed_checks": sorted(drift),
        "drift": drift,
        "schema_change": change.metadata().data if change is not None else None,
        "source_bucket": bucket,
        "source_key": snapshot_key,
        "source_etag": info.etag if info else None,
        "source_sha256": sha256,
        "run_id": context.run.run_id,
        "quarantined_at": datetime.now(UTC).isoformat(),
    }
    if store.info(bucket, reason_key) is None:  # the first block's reason stays
        _put_json(lake, bucket, reason_key, reason)
    markers = {
        name: drift_alert_marker_key(source, dataset, snapshot_key, sha256, name) for name in drift
    }
    pending = [name for name, marker in markers.items() if store.info(bucket, marker) is None]
    # The run's failure alert to the layer's topic carries this drift (its failed checks name it
    # and where the snapshot went); the markers make a rerun on the same snapshot send none.
    for name in pending:
        _put_json(
            lake,
            bucket,
            markers[name],
            {"check": name, "source_sha256": sha256, "run_id": context.run.run_id},
        )
    if not pending:
        context.log.info(
            f"{key.to_user_string()}: drift in {snapshot_key} was alerted before; not again"
        )
    context.log.warning(
        f"{key.to_user_string()}: raw snapshot {snapshot_key} quarantined at {copy_key}: "
        f"{reason_text}"
    )
    return DriftQuarantine(copy_key, reason_key, markers, pending)


def with_drift_metadata(
    result: dg.AssetCheckResult, quarantined: DriftQuarantine
) -> dg.AssetCheckResult:
    """``result`` carrying where its snapshot went and the marker of its (one) alert."""
    marker = quarantined.markers.get(str(result.check_name))
    if marker is None:
        return result
    return dg.AssetCheckResult(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        severity=result.severity,
        description=result.description,
        metadata={
            **result.metadata,
            QUARANTINE_KEY: quarantined.copy_key,
            DRIFT_ALERT: marker,
            "alerted_now": str(result.check_name) in quarantined.alerted_now,
        },
    )


def blocked_observation(
    context: dg.AssetExecutionContext,
    key: dg.AssetKey,
    snapshot_key: str | None,
    columns: Mapping[str, str],
    failed: Sequence[str],
) -> dg.AssetObservation:
    """The schema history's record of an ingestion silver refused."""
    return dg.AssetObservation(
        asset_key=key,
        partition=context.partition_key if context.has_partition_key else None,
        metadata={
            SCHEMA_STATUS: BLOCKED,
            RAW_SNAPSHOT: snapshot_key or "",
            BRONZE_SCHEMA: schema_json(columns),
            "failed_checks": ", ".join(failed),
        },
    )


def accepted_metadata(snapshot_key: str | None, columns: Mapping[str, str]) -> dict[str, Any]:
    """What a silver materialization records about the ingestion it accepted."""
    return {
        SCHEMA_STATUS: ACCEPTED,
        RAW_SNAPSHOT: snapshot_key or "",
        BRONZE_SCHEMA: schema_json(columns),
    }
