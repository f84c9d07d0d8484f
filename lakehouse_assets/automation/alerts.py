"""Failure alerts: one message per failed layer of a run, published to that layer's topic.

Replaces the Step Functions Catch → SNS wiring of the original stack. Delivery is retried; if it
still fails the sensor tick fails without storing its cursor, so the alert is sent again on the
next tick (at least once) instead of being lost, as a plain ``run_failure_sensor`` would lose it.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from lakehouse_assets import settings
from lakehouse_assets.resources.notifications import NotificationsResource

#: Dagster's wrappers around the user-code error a user needs to see.
WRAPPER_ERRORS = frozenset(
    {
        "DagsterExecutionStepExecutionError",
        "DagsterUserCodeExecutionError",
        "RetryRequestedFromPolicy",
        "DagsterMaxRetriesExceededError",
        "DagsterExecutionHandleOutputError",
        "DagsterExecutionLoadInputError",
    }
)
#: Run tag set once a run's alerts were published outside the sensor (``lakehouse run``).
ALERTED_TAG = "lakehouse/alerted"
SUBJECT_LIMIT = 100  # SNS subjects are at most 100 characters
#: Check-result metadata naming the marker of the alert the step sent itself (schema drift).
DRIFT_ALERT_METADATA = "drift_alert"
CURSOR_OVERLAP = timedelta(minutes=5)


class AlertDeliveryError(RuntimeError):
    """An alert could not be published after every retry."""


@dataclass(frozen=True)
class Alert:
    layer: str | None  # None → the pipeline-level topic
    subject: str
    message: dict[str, Any]


@dataclass
class _Failure:
    assets: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    error_class: str = ""
    error: str = ""
    failed_checks: list[str] = field(default_factory=list)
    #: Failed checks whose drift an earlier run already alerted (``medallion.drift``).
    alerted_checks: list[str] = field(default_factory=list)
    #: Failed check → the schema drift it names, and where the blocked snapshot was copied.
    drift: dict[str, str] = field(default_factory=dict)
    quarantined: list[str] = field(default_factory=list)

    def alerted_by_step(self) -> bool:
        """Every failed asset of the layer failed only on drift already alerted for the same
        snapshot: the run-failure alert would repeat it on every rerun."""
        if not self.alerted_checks or set(self.failed_checks) - set(self.alerted_checks):
            return False
        alerted_assets = {check.rsplit(":", 1)[0] for check in self.alerted_checks}
        return all(asset in alerted_assets for asset in self.assets)


def _layer_of(step_key: str) -> tuple[str | None, str]:
    """Asset ops are named after their key (``silver__wordpress_api__posts``)."""
    parts = step_key.split("[")[0].split("__")
    if len(parts) == 3 and parts[0] in settings.LAYERS:
        return parts[0], "/".join(parts)
    return None, step_key


def error_summary(error: Any) -> tuple[str, str]:
    """(exception class, last line of its message) of the user-code error behind a failure."""
    if error is None:
        return "UnknownError", "no error information"
    cause = error
    while getattr(cause, "cause", None) is not None and cause.cls_name in WRAPPER_ERRORS:
        cause = cause.cause
    lines = [line for line in (cause.message or "").strip().splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    text = re.sub(rf"^[\w.]*{re.escape(cause.cls_name or '')}: ", "", text)
    return cause.cls_name or "Error", text[:500]


def _alerted_before(metadata: dict[str, Any]) -> bool:
    """A failed check whose drift an earlier run already alerted (same snapshot, same check):
    a rerun on that snapshot alerts nothing new. (The first blocked run alerts as every failed
    run does, beside the step's own drift alert.)"""
    if DRIFT_ALERT_METADATA not in metadata:
        return False
    now = metadata.get("alerted_now")
    return getattr(now, "value", now) is False


def alerts_for_run(run: dg.DagsterRun, instance: dg.DagsterInstance) -> list[Alert]:
    """The alerts a failed run calls for: one per failed layer, or one pipeline-level alert."""
    records = instance.get_records_for_run(
        run.run_id,
        of_type={
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            dg.DagsterEventType.RUN_FAILURE,
        },
    ).records
    by_layer: dict[str | None, _Failure] = {}
    run_error: tuple[str, str] | None = None
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            layer, asset = _layer_of(event.step_key or "")
            failure = by_layer.setdefault(layer, _Failure())
            failure.assets.append(asset)
            failure.steps.append(event.step_key or "")
            if not failure.error_class:
                failure.error_class, failure.error = error_summary(event.step_failure_data.error)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation is not None and not evaluation.passed:  # type: ignore[union-attr]
                key = evaluation.asset_key  # type: ignore[union-attr]
                layer = key.path[0] if key.path[0] in settings.LAYERS else None
                name = f"{key.to_user_string()}:{evaluation.check_name}"  # type: ignore[union-attr]
                failure = by_layer.setdefault(layer, _Failure())
                failure.failed_checks.append(name)
                metadata = evaluation.metadata or {}  # type: ignore[union-attr]
                if _alerted_before(metadata):  # type: ignore[arg-type]
                    failure.alerted_checks.append(name)
                if DRIFT_ALERT_METADATA in metadata:
                    failure.drift[name] = evaluation.description or ""  # type: ignore[union-attr]
                    copy = metadata.get("quarantine_key")
                    copy_key = str(getattr(copy, "value", copy))
                    if copy is not None and copy_key not in failure.quarantined:
                        failure.quarantined.append(copy_key)
        elif event.event_type == dg.DagsterEventType.RUN_FAILURE:
            data = event.event_specific_data
            run_error = error_summary(getattr(data, "error", None)) if data else None
    if not by_layer:
        error_class, error = run_error or ("RunFailure", "the run failed before any step ran")
        by_layer[None] = _Failure(error_class=error_class, error=error)
    alerts = []
    for layer, failure in by_layer.items():
        if failure.alerted_by_step():
            continue
        failure.error_class = failure.error_class or "CheckFailure"
        failure.error = failure.error or "blocking check(s) failed"
        alerts.append(_alert(run, layer, failure))
    return alerts


def _alert(run: dg.DagsterRun, layer: str | None, failure: _Failure) -> Alert:
    what = ", ".join(failure.assets) or run.job_name
    subject = f"[lakehouse] {layer or 'pipeline'} failed: {what}"
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 1] + "…"
    message: dict[str, Any] = {
        "alert": "failure",
        "layer": layer or "pipeline",
        "assets": failure.assets,
        "failed_checks": failure.failed_checks,
        "partition": run.tags.get("dagster/partition"),
        "error_class": failure.error_class,
        "error": failure.error,
        "job": run.job_name,
        "run_id": run.run_id,
        "run_url": f"{settings.ui_base_url()}/runs/{run.run_id}",
    }
    if failure.drift:  # blocked by schema drift: what changed, where the snapshot went
        message["drift"] = failure.drift
        message["quarantine_keys"] = failure.quarantined
    return Alert(layer, subject, message)


def alert_run_now(
    run: dg.DagsterRun, instance: dg.DagsterInstance, notifications: NotificationsResource
) -> list[Alert]:
    """Publish a failed run's alerts at once (no daemon) and tag the run so the sensor skips it."""
    alerts = alerts_for_run(run, instance)
    publish_alerts(notifications, alerts)
    instance.add_run_tags(run.run_id, {ALERTED_TAG: "true"})
    return alerts


def publish_alerts(
    notifications: NotificationsResource,
    alerts: Sequence[Alert],
    *,
    attempts: int = 4,
    backoff_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Publish each alert, retrying with jittered backoff; raise if any is not delivered."""
    message_ids = []
    for alert in alerts:
        for attempt in range(1, attempts + 1):
            try:
                message_ids.append(notifications.publish(alert.layer, alert.subject, alert.message))
                break
            except Exception as exc:
                if attempt == attempts:
                    topic = alert.layer or "pipeline"
                    raise AlertDeliveryError(
                        f"alert for run {alert.message.get('run_id')} to the {topic} topic "
                        f"failed {attempts} times ({type(exc).__name__})"
                    ) from None
                sleep(random.uniform(0, backoff_seconds * 2 ** (attempt - 1)))
    return message_ids


def tick_alert(tick: Any) -> Alert:
    """A failed schedule or sensor tick: not a layer's failure, so the pipeline topic."""
    kind = tick.instigator_type.value.lower()
    error_class, error = error_summary(tick.error)
    when = datetime.fromtimestamp(tick.timestamp, UTC).isoformat()
    subject = f"[lakehouse] {kind} {tick.instigator_name} tick failed"
    message = {
        "alert": "tick_failure",
        "layer": "pipeline",
        kind: tick.instigator_name,
        "tick_time": when,
        "error_class": error_class,
        "error": error,
        "url": f"{settings.ui_base_url()}/automation",
    }
    return Alert(None, subject[:SUBJECT_LIMIT], message)


@dataclass
class AlertCursor:
    """Runs and ticks already alerted, each with the time its failure was seen at."""

    after: datetime
    sent: dict[str, float]
    ticks_after: float = 0.0
    ticks_sent: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None, now: datetime) -> AlertCursor:
        if not raw:
            start = now - CURSOR_OVERLAP
            return cls(start, {}, start.timestamp(), {})
        value = json.loads(raw)
        return cls(
            datetime.fromtimestamp(value["after"], UTC),
            dict(value["sent"]),
            float(value.get("ticks_after", value["after"])),
            dict(value.get("ticks_sent", {})),
        )

    def dump(self) -> str:
        overlap = CURSOR_OVERLAP.total_seconds()
        horizon = self.after.timestamp() - overlap
        tick_horizon = self.ticks_after - overlap
        value = {
            "after": self.after.timestamp(),
            "sent": {k: ts for k, ts in self.sent.items() if ts >= horizon},
            "ticks_after": self.ticks_after,
            "ticks_sent": {k: ts for k, ts in self.ticks_sent.items() if ts >= tick_horizon},
        }
        return json.dumps(value, sort_keys=True)


def failed_ticks(instance: dg.DagsterInstance, cursor: AlertCursor, own_name: str) -> list[Any]:
    """Failed schedule/sensor ticks since the cursor, oldest first (this sensor's own excluded:
    if alerting itself fails, its tick error is what the UI shows)."""
    # Tick statuses have no public API (dagster exports no TickStatus).
    from dagster._core.scheduler.instigation import TickStatus  # noqa: TID251 (no public API)

    if instance.schedule_storage is None:  # an ephemeral instance keeps no ticks
        return []
    after = cursor.ticks_after - CURSOR_OVERLAP.total_seconds()
    ticks: list[Any] = []
    for state in instance.all_instigator_state():
        if state.instigator_name == own_name:
            continue
        ticks += instance.get_ticks(
            state.instigator_origin_id,
            state.selector_id,
            after=after,
            statuses=[TickStatus.FAILURE],
        )
    return sorted(ticks, key=lambda tick: (tick.timestamp, tick.tick_id))


@dg.sensor(
    name="failure_alerts",
    description=(
        "Publishes each failed run to the topic of the layer that failed, and each failed "
        "schedule or sensor tick to the pipeline topic (retried, never lost)."
    ),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def failure_alerts(
    context: dg.SensorEvaluationContext, notifications: NotificationsResource
) -> dg.SkipReason:
    cursor = AlertCursor.parse(context.cursor, datetime.now(UTC))
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE], updated_after=cursor.after - CURSOR_OVERLAP
        ),
        order_by="update_timestamp",
        ascending=True,
        limit=100,
    )
    published = 0
    for record in records:
        run_id = record.dagster_run.run_id
        if run_id in cursor.sent or record.dagster_run.tags.get(ALERTED_TAG):
            continue
        publish_alerts(notifications, alerts_for_run(record.dagster_run, context.instance))
        updated = record.update_timestamp.replace(tzinfo=record.update_timestamp.tzinfo or UTC)
        cursor.sent[run_id] = updated.timestamp()
        cursor.after = max(cursor.after, updated)
        published += 1
    ticks = 0
    for tick in failed_ticks(context.instance, cursor, "failure_alerts"):
        key = f"{tick.instigator_name}:{tick.tick_id}"
        if key in cursor.ticks_sent:
            continue
        publish_alerts(notifications, [tick_alert(tick)])
        cursor.ticks_sent[key] = tick.timestamp
        cursor.ticks_after = max(cursor.ticks_after, tick.timestamp)
        ticks += 1
    context.update_cursor(cursor.dump())
    return dg.SkipReason(f"alerted {published} failed run(s) and {ticks} failed tick(s)")
