"""Failure alerts: what they say, which topic they go to, and that a failed publish is retried
and surfaced rather than lost (the trap of a plain run_failure_sensor)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from lakehouse_assets.automation.alerts import (
    AlertDeliveryError,
    alerts_for_run,
    failure_alerts,
    publish_alerts,
)
from lakehouse_assets.resources.notifications import (
    LocalNotificationsResource,
    NotificationsResource,
)
from lakehouse_assets_tests.conftest import FixtureSite, LocalLake, run_wordpress_job

ATTEMPTS: Counter[str] = Counter()


class FlakyNotifications(NotificationsResource):
    """Fails the first ``failures`` publishes (per ``name``), then writes to the outbox."""

    name: str
    failures: int
    outbox_path: str

    def publish(self, layer: str | None, subject: str, message: dict[str, Any]) -> str:
        ATTEMPTS[self.name] += 1
        if ATTEMPTS[self.name] <= self.failures:
            raise ConnectionError("SNS endpoint unreachable")
        return LocalNotificationsResource(outbox_path=self.outbox_path).publish(
            layer, subject, message
        )


def outbox(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def failed_run(instance: dg.DagsterInstance, site: FixtureSite, dataset: str, answer: object):
    site.set_table(dataset, answer)  # type: ignore[arg-type]
    result = run_wordpress_job(instance)
    assert not result.success
    return instance.get_run_by_id(result.run_id)


def test_raw_failure_alert_names_asset_error_run_and_link(
    local_lake: LocalLake, fixture_site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_UI_URL", "https://dagster.example.com/")
    instance = dg.DagsterInstance.ephemeral()
    run = failed_run(instance, fixture_site, "terms", (404, b"{}"))
    [alert] = alerts_for_run(run, instance)
    assert alert.layer == "raw"
    assert alert.subject == "[lakehouse] raw failed: raw/wordpress_api/terms"
    assert alert.message == {
        "alert": "failure",
        "layer": "raw",
        "assets": ["raw/wordpress_api/terms"],
        "failed_checks": [],
        "partition": run.tags["dagster/partition"],
        "error_class": "SourceError",
        "error": "wordpress_api/terms: HTTP 404 on page 1",
        "job": "wordpress_api_job",
        "run_id": run.run_id,
        "run_url": f"https://dagster.example.com/runs/{run.run_id}",
    }
    assert fixture_site.base_url not in json.dumps(alert.message)


def test_silver_check_failure_goes_to_the_silver_topic(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    rows = [dict(r) for r in fixture_site.tables["posts"]]
    rows[0]["ID"] = "not-a-number"
    run = failed_run(instance, fixture_site, "posts", rows)
    [alert] = alerts_for_run(run, instance)
    assert alert.layer == "silver"
    assert alert.message["assets"] == ["silver/wordpress_api/posts"]
    assert alert.message["failed_checks"] == [  # the unparseable ID also leaves a null key
        "silver/wordpress_api/posts:unique_non_null_keys",
        "silver/wordpress_api/posts:typed_integers",
    ]
    assert alert.message["error_class"] == "DataContractError"


def test_failure_outside_a_layer_goes_to_the_pipeline_topic() -> None:
    @dg.op
    def boom() -> None:
        raise RuntimeError("disk full")

    @dg.job
    def housekeeping() -> None:
        boom()

    instance = dg.DagsterInstance.ephemeral()
    result = housekeeping.execute_in_process(instance=instance, raise_on_error=False)
    [alert] = alerts_for_run(instance.get_run_by_id(result.run_id), instance)  # type: ignore[arg-type]
    assert alert.layer is None
    assert alert.message["layer"] == "pipeline"
    assert (alert.message["error_class"], alert.message["error"]) == ("RuntimeError", "disk full")


def test_publish_is_retried_then_delivered(tmp_path: Path) -> None:
    from lakehouse_assets.automation.alerts import Alert

    sink = FlakyNotifications(name="retry", failures=2, outbox_path=str(tmp_path / "o.jsonl"))
    sleeps: list[float] = []
    ids = publish_alerts(sink, [Alert("gold", "s", {"run_id": "r1"})], sleep=sleeps.append)
    assert len(ids) == 1 and len(sleeps) == 2
    assert [a["topic"] for a in outbox(tmp_path / "o.jsonl")] == ["gold"]


def test_publish_that_keeps_failing_is_surfaced(tmp_path: Path) -> None:
    from lakehouse_assets.automation.alerts import Alert

    sink = FlakyNotifications(name="down", failures=99, outbox_path=str(tmp_path / "o.jsonl"))
    with pytest.raises(AlertDeliveryError) as raised:
        publish_alerts(sink, [Alert("bronze", "s", {"run_id": "r9"})], sleep=lambda _: None)
    assert str(raised.value) == (
        "alert for run r9 to the bronze topic failed 4 times (ConnectionError)"
    )


def test_sensor_sends_each_failed_run_once_and_keeps_its_cursor_on_failure(
    local_lake: LocalLake, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    run = failed_run(instance, fixture_site, "terms", (404, b"{}"))
    path = tmp_path / "alerts.jsonl"

    broken = FlakyNotifications(name="sensor", failures=99, outbox_path=str(path))
    context = dg.build_sensor_context(instance=instance, resources={"notifications": broken})
    with pytest.raises(Exception, match="failed 4 times"):
        failure_alerts.evaluate_tick(context)
    assert outbox(path) == [] and context.cursor is None  # nothing sent, cursor not stored

    working = LocalNotificationsResource(outbox_path=str(path))
    context = dg.build_sensor_context(instance=instance, resources={"notifications": working})
    failure_alerts.evaluate_tick(context)
    assert [a["message"]["run_id"] for a in outbox(path)] == [run.run_id]
    cursor = context.cursor

    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"notifications": working}
    )
    failure_alerts.evaluate_tick(context)
    assert len(outbox(path)) == 1  # the same run is never alerted twice


def record_failed_tick(instance: dg.DagsterInstance, name: str, message: str) -> None:
    """A failed sensor tick as the daemon records it (state + tick in schedule storage).

    Recording a tick has no public API: these imports stand in for the daemon.
    """
    from dagster._core.remote_origin import (  # noqa: TID251
        InProcessCodeLocationOrigin,
        RemoteInstigatorOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.scheduler.instigation import (  # noqa: TID251
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        TickData,
        TickStatus,
    )
    from dagster._core.types.loadable_target_origin import (  # noqa: TID251
        LoadableTargetOrigin,
    )
    from dagster._utils.error import SerializableErrorInfo  # noqa: TID251

    origin = RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(
            InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="lakehouse_assets")),
            "__repository__",
        ),
        name,
    )
    state = InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.DECLARED_IN_CODE)
    instance.add_instigator_state(state)
    instance.create_tick(
        TickData(
            instigator_origin_id=state.instigator_origin_id,
            instigator_name=name,
            instigator_type=InstigatorType.SENSOR,
            status=TickStatus.FAILURE,
            timestamp=time.time(),
            selector_id=state.selector_id,
            error=SerializableErrorInfo(message, [], "ConfigurationError"),
        )
    )


def test_failed_sensor_tick_is_alerted_once_to_the_pipeline_topic(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        tick_alert_round_trip(instance, tmp_path)


def tick_alert_round_trip(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    record_failed_tick(
        instance,
        "landing__shop__orders_sensor",
        "lakehouse_assets.errors.ConfigurationError: parameter(s) missing: /s3/lakehouse/name/raw",
    )
    path = tmp_path / "alerts.jsonl"
    sink = LocalNotificationsResource(outbox_path=str(path))
    context = dg.build_sensor_context(instance=instance, resources={"notifications": sink})
    failure_alerts.evaluate_tick(context)
    [alert] = outbox(path)
    assert alert["topic"] == "pipeline"
    assert alert["subject"] == "[lakehouse] sensor landing__shop__orders_sensor tick failed"
    assert alert["message"]["error"] == "parameter(s) missing: /s3/lakehouse/name/raw"
    assert alert["message"]["sensor"] == "landing__shop__orders_sensor"
    again = dg.build_sensor_context(
        instance=instance, cursor=context.cursor, resources={"notifications": sink}
    )
    failure_alerts.evaluate_tick(again)
    assert len(outbox(path)) == 1


def test_runs_alerted_by_the_cli_are_not_alerted_again_by_the_sensor(
    local_lake: LocalLake, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    from lakehouse_assets.automation.alerts import alert_run_now

    instance = dg.DagsterInstance.ephemeral()
    run = failed_run(instance, fixture_site, "terms", (404, b"{}"))
    path = tmp_path / "alerts.jsonl"
    sink = LocalNotificationsResource(outbox_path=str(path))
    alert_run_now(run, instance, sink)
    context = dg.build_sensor_context(instance=instance, resources={"notifications": sink})
    failure_alerts.evaluate_tick(context)
    assert [a["message"]["run_id"] for a in outbox(path)] == [run.run_id]
