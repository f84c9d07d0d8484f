"""``lakehouse report``: the runs of the last days with what they asked of AWS and HTTP APIs
and what those requests cost, as a table and as a self-contained HTML chart (inline SVG, no
plotting library).

A run's usage is its ``lakehouse/usage`` tag (the exact total, set by ``lakehouse run``), else
the sum of its steps' ``lakehouse/usage`` metadata (runs a daemon launched). Costs come from the
price table (``observe/prices.py``) for ``--region``.
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lakehouse_assets.observe.prices import PriceTable, price_table
from lakehouse_assets.observe.usage import (
    S3_KINDS,
    USAGE_METADATA,
    USAGE_TAG,
    Usage,
    add_usage,
    http_bytes,
    http_requests,
    loads,
)


@dataclass(frozen=True)
class RunUsage:
    run_id: str
    job: str
    partition: str
    status: str
    started: datetime | None
    seconds: float | None
    usage: Usage

    def aws_other(self) -> int:
        return sum(
            v
            for k, v in self.usage.items()
            if k.startswith("aws.") and k.endswith(".calls") and not k.startswith("aws.s3.")
        )


def step_usage(instance: Any, run_id: str) -> Usage:
    """The sum of the run's steps' ``lakehouse/usage`` metadata."""
    import dagster as dg

    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=10_000
    ).records
    parts = []
    for record in records:
        event = record.event_log_entry.dagster_event
        metadata = event.step_materialization_data.materialization.metadata
        value = metadata.get(USAGE_METADATA)
        if value is not None and isinstance(value.value, dict):
            parts.append(value.value)
    return add_usage(parts)


def runs_since(instance: Any, since: datetime) -> list[RunUsage]:
    """Runs created since ``since``, oldest first, each with its usage."""
    import dagster as dg

    records = instance.get_run_records(
        filters=dg.RunsFilter(created_after=since), order_by="create_timestamp", ascending=True
    )
    runs = []
    for record in records:
        run = record.dagster_run
        tagged = run.tags.get(USAGE_TAG)
        usage = loads(tagged) if tagged is not None else step_usage(instance, run.run_id)
        start, end = record.start_time, record.end_time
        runs.append(
            RunUsage(
                run_id=run.run_id,
                job=run.job_name,
                partition=run.tags.get("dagster/partition", ""),
                status=run.status.value,
                started=datetime.fromtimestamp(start, UTC) if start else None,
                seconds=(end - start) if start and end else None,
                usage=usage,
            )
        )
    return runs


COLUMNS = (
    "started (UTC)",
    "run",
    "job",
    "partition",
    "status",
    "secs",
    "S3 GET",
    "PUT",
    "LIST",
    "HEAD",
    "AWS other",
    "HTTP",
    "HTTP MB",
    "USD",
)


def table_rows(runs: list[RunUsage], prices: PriceTable) -> list[list[str]]:
    rows = []
    for run in runs:
        u = run.usage
        rows.append(
            [
                run.started.strftime("%Y-%m-%d %H:%M") if run.started else "",
                run.run_id[:8],
                run.job,
                run.partition,
                run.status.lower(),
                f"{run.seconds:.0f}" if run.seconds is not None else "",
                *(str(u.get(f"aws.s3.{kind}", 0)) for kind in ("GET", "PUT", "LIST", "HEAD")),
                str(run.aws_other()),
                str(http_requests(u)),
                f"{http_bytes(u) / 1e6:.2f}",
                f"{prices.cost(u):.6f}",
            ]
        )
    return rows


def render_table(runs: list[RunUsage], prices: PriceTable, since: timedelta) -> str:
    rows = table_rows(runs, prices)
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(COLUMNS)]
    numeric = set(range(5, len(COLUMNS)))

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    total = add_usage(r.usage for r in runs)
    out = [line(COLUMNS), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)]
    out.append("")
    out.append(
        f"{len(runs)} run(s) in the last {_span(since)}: S3 "
        + ", ".join(f"{k} {total.get(f'aws.s3.{k}', 0)}" for k in ("GET", "PUT", "LIST", "HEAD"))
        + f"; HTTP {http_requests(total)}; estimated ${prices.cost(total):.6f} of AWS requests"
        f" at {prices.region} list prices of {prices.as_of} (storage, transfer and compute"
        " not included)"
    )
    return "\n".join(out) + "\n"


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 24 else f"{hours:g} hours"


#: Stacked series of the chart: (label, colour, requests of a run).
SERIES = (
    ("S3 PUT/LIST", "#d95f02", lambda u: u.get("aws.s3.PUT", 0) + u.get("aws.s3.LIST", 0)),
    (
        "S3 GET/HEAD/other",
        "#7570b3",
        lambda u: sum(u.get(f"aws.s3.{k}", 0) for k in ("GET", "HEAD", "OTHER", "DELETE")),
    ),
    (
        "other AWS",
        "#e7298a",
        lambda u: sum(
            v for k, v in u.items() if k.endswith(".calls") and not k.startswith("aws.s3.")
        ),
    ),
    ("HTTP", "#1b9e77", http_requests),
)


def render_chart(runs: list[RunUsage], prices: PriceTable) -> str:
    """An HTML page with one inline SVG: a stacked bar of requests per run, in time order,
    each bar's tooltip giving the run, its job and its estimated cost."""
    width, height, left, bottom, top = 900, 360, 60, 40, 30
    plot_w, plot_h = width - left - 20, height - bottom - top
    totals = [sum(f(r.usage) for _, _, f in SERIES) for r in runs]
    peak = max([*totals, 1])
    bar = plot_w / max(len(runs), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{top - 12}">requests per run (estimated cost in each tooltip)</text>',
    ]
    for index, run in enumerate(runs):
        x = left + index * bar + bar * 0.1
        y = float(top + plot_h)
        label = html.escape(
            f"{run.started:%Y-%m-%d %H:%M} {run.job} {run.partition} {run.run_id[:8]}: "
            f"{totals[index]} requests, ${prices.cost(run.usage):.6f}"
            if run.started
            else run.run_id
        )
        parts.append(f"<g><title>{label}</title>")
        for name, colour, count in SERIES:
            value = count(run.usage)
            if not value:
                continue
            h = value / peak * plot_h
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar * 0.8:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{label} | {html.escape(name)} {value}</title></rect>'
            )
        parts.append("</g>")
    if runs:
        for index in sorted({0, len(runs) - 1}):
            run = runs[index]
            when = f"{run.started:%m-%d %H:%M}" if run.started else ""
            x = left + index * bar + bar / 2
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{when}</text>'
            )
    for index, (name, colour, _) in enumerate(SERIES):
        x = left + index * 170
        parts.append(
            f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{height - 5}">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    total = prices.cost(add_usage(r.usage for r in runs))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>lakehouse runs</title></head>"
        f"<body><h1>lakehouse runs</h1><p>{len(runs)} run(s); estimated ${total:.6f} of AWS "
        f"requests at {prices.region} list prices of {prices.as_of}.</p>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def run_report(since: timedelta, *, region: str | None = None, chart: Path | None = None) -> int:
    """``lakehouse report``: the table on stdout, the chart to ``chart`` when asked."""
    import dagster as dg

    from lakehouse_assets.dagster_home import dagster_home

    dagster_home()
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    prices = price_table(region)
    with dg.DagsterInstance.get() as instance:
        runs = runs_since(instance, datetime.now(UTC) - since)
    sys.stdout.write(render_table(runs, prices, since))
    if chart is not None:
        chart.write_text(render_chart(runs, prices), encoding="utf-8")
        sys.stdout.write(f"chart written to {chart}\n")
    return 0


__all__ = ["S3_KINDS", "render_chart", "render_table", "run_report", "runs_since"]
