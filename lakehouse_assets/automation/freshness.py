"""Freshness alerts: a table older than its source's SLA is alerted once, and again when it
recovers, to its layer's topic.

Each silver and gold asset carries its source's ``dg.FreshnessPolicy`` (``Source.freshness``),
which the UI shows; Dagster itself raises no alert on it outside Dagster+. This sensor reads
each such asset's last materialization from the instance (one query for all of them), compares
its age with the policy's fail window, and keeps the breaches it has alerted in its cursor: a
breach is published when it starts and a recovery when a new materialization ends it, never
again in between. A table never materialized has no age and is not alerted (a new deployment
would otherwise page for every table). Delivery is retried; if it still fails the tick fails
without moving its cursor, so the alert comes again on the next tick rather than being lost.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from lakehouse_assets import settings
from lakehouse_assets.automation.alerts import SUBJECT_LIMIT, Alert, publish_alerts
from lakehouse_assets.resources.notifications import NotificationsResource

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def fail_window(policy: Any) -> timedelta | None:
    """The policy's fail window (time-window policies; cron policies are not alerted here)."""
    window = getattr(policy, "fail_window", None)
    if window is None:
        return None
    return (
        window.to_timedelta()
        if hasattr(window, "to_timedelta")
        else timedelta(days=window.days, seconds=window.seconds, microseconds=window.microseconds)
    )


def describe_window(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)}d"
    return f"{hours:g}h" if hours >= 1 else f"{window.total_seconds() / 60:g}m"


def freshness_alert(
    key: dg.AssetKey, state: str, last_update: datetime, sla: timedelta, now: datetime
) -> Alert:
    """``state`` is ``breached`` or ``recovered``; the alert goes to the table's layer."""
    asset = key.to_user_string()
    layer = key.path[0] if key.path[0] in settings.LAYERS else None
    verb = "is older than its" if state == "breached" else "is fresh again within its"
    subject = f"[lakehouse] {asset} {verb} {describe_window(sla)} freshness SLA"
    age = now - last_update
    message = {
        "alert": f"freshness_{state}",
        "layer": layer or "pipeline",
        "asset": asset,
        "last_update": last_update.isoformat(),
        "age_hours": round(age.total_seconds() / 3600, 2),
        "sla": describe_window(sla),
        "sla_seconds": int(sla.total_seconds()),
        "checked_at": now.isoformat(),
        "url": f"{settings.ui_base_url()}/assets/{'/'.join(key.path)}",
    }
    return Alert(layer, subject[:SUBJECT_LIMIT], message)


def evaluate(
    context: dg.SensorEvaluationContext, now: datetime, breached: dict[str, float]
) -> list[tuple[Alert, str, float | None]]:
    """(alert, asset, new breach value or None when it recovered) for every change of state."""
    graph = context.repository_def.asset_graph  # type: ignore[union-attr]
    windows = {}
    for key in graph.get_all_asset_keys():
        window = fail_window(graph.get(key).freshness_policy)
        if window is not None:
            windows[key] = window
    records = context.instance.get_asset_records(list(windows))
    last = {
        record.asset_entry.asset_key: record.asset_entry.last_materialization.timestamp
        for record in records
        if record.asset_entry.last_materialization is not None
    }
    changes: list[tuple[Alert, str, float | None]] = []
    for key, window in sorted(windows.items(), key=lambda item: item[0].to_user_string()):
        if key not in last:
            continue
        updated = datetime.fromtimestamp(last[key], UTC)
        name = key.to_user_string()
        stale = now - updated > window
        if stale and name not in breached:
            changes.append(
                (freshness_alert(key, "breached", updated, window, now), name, last[key])
            )
        elif not stale and name in breached:
            changes.append((freshness_alert(key, "recovered", updated, window, now), name, None))
    return changes


def build_freshness_sensor(clock: Clock = _now) -> dg.SensorDefinition:
    """The sensor, reading the time from ``clock`` (tests pass a controlled one)."""

    @dg.sensor(
        name="freshness_alerts",
        description="Alerts each silver or gold table older than its source's freshness SLA "
        "to its layer's topic, once per breach, and again when it is fresh.",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def freshness_alerts(
        context: dg.SensorEvaluationContext, notifications: NotificationsResource
    ) -> dg.SkipReason:
        breached: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
        changes = evaluate(context, clock(), breached)
        publish_alerts(notifications, [alert for alert, _, _ in changes])
        for _, name, value in changes:
            if value is None:
                breached.pop(name, None)
            else:
                breached[name] = value
        context.update_cursor(json.dumps(breached, sort_keys=True))
        recovered = sum(1 for _, _, value in changes if value is None)
        return dg.SkipReason(
            f"{len(changes) - recovered} breach(es) and {recovered} recovery(ies) alerted; "
            f"{len(breached)} table(s) stale"
        )

    return freshness_alerts


freshness_alerts = build_freshness_sensor()
