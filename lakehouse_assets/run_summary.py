"""What a run did, as a user wants to read it: each asset, its rows, where its data lies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from lakehouse_assets.automation.alerts import error_summary
from lakehouse_assets.observe.usage import USAGE_METADATA, add_usage, describe


@dataclass
class AssetLine:
    asset: str
    rows: int | None
    location: str


@dataclass
class RunSummary:
    run_id: str
    success: bool
    assets: list[AssetLine] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    alerts_sent: list[str] = field(default_factory=list)
    partition: str | None = None
    #: AWS and HTTP requests of the run (observe/usage.py): its steps' ``lakehouse/usage``
    #: summed, or the run's whole total where the run was made in this process.
    usage: dict[str, int] = field(default_factory=dict)

    def render(self, elapsed: float) -> str:
        width = max([len(a.asset) for a in self.assets] + [5])
        day = f" for {self.partition}" if self.partition else ""
        lines = [
            f"Run {self.run_id}{day} {'succeeded' if self.success else 'FAILED'} in {elapsed:.1f}s",
            "",
            f"{'asset'.ljust(width)}  {'rows':>8}  location",
        ]
        for a in self.assets:
            rows = "" if a.rows is None else str(a.rows)
            lines.append(f"{a.asset.ljust(width)}  {rows:>8}  {a.location}")
        passed = sum(1 for _, ok in self.checks if ok)
        lines += ["", f"checks: {passed}/{len(self.checks)} passed"]
        lines += [f"  FAILED {name}" for name, ok in self.checks if not ok]
        for step, message in self.failures:
            lines.append(f"step {step} failed: {message}")
        lines += [f"alert sent: {subject}" for subject in self.alerts_sent]
        lines.append(f"usage: {describe(self.usage)}")
        return "\n".join(lines) + "\n"


def ui_hint(dagster_home: Path) -> str:
    """Where to see the runs just made (printed once, after every run's summary)."""
    return "\n".join(
        [
            "Open the UI on these runs and assets:",
            f"  ./dev ui   (= DAGSTER_HOME={dagster_home} .venv/bin/dagster dev)",
            "  then http://127.0.0.1:3000",
        ]
    )


def summarize(
    result: dg.ExecuteInProcessResult | dg.JobExecutionResult, instance: dg.DagsterInstance
) -> RunSummary:
    summary = RunSummary(
        run_id=result.run_id,
        success=result.success,
        partition=result.dagster_run.tags.get("dagster/partition"),
    )
    step_usage = []
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        metadata = materialization.metadata
        if USAGE_METADATA in metadata:
            step_usage.append(metadata[USAGE_METADATA].value)
        rows = metadata.get("dagster/row_count")
        uri = metadata.get("dagster/uri")
        summary.assets.append(
            AssetLine(
                materialization.asset_key.to_user_string(),
                int(rows.value) if rows is not None else None,  # type: ignore[arg-type]
                str(uri.value) if uri is not None else "",
            )
        )
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"  # type: ignore[union-attr]
            summary.checks.append((name, bool(evaluation.passed)))  # type: ignore[union-attr]
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error_class, message = error_summary(event.step_failure_data.error)
            summary.failures.append((event.step_key or "?", f"{error_class}: {message}"))
    summary.usage = add_usage(u for u in step_usage if isinstance(u, dict))
    return summary
