"""Freshness SLAs: every silver and gold table of a source carries the source's SLA as a
``dg.FreshnessPolicy``, and the sensor alerts a breach once (table, last update, SLA) to the
table's layer topic and its recovery once, reading real materializations from a real instance
with a controlled clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets import settings
from lakehouse_assets.automation.freshness import build_freshness_sensor
from lakehouse_assets.medallion.source import Source
from lakehouse_assets.resources.notifications import LocalNotificationsResource

SLAS = {
    "wordpress_api": timedelta(hours=26),
    "spotify": timedelta(days=8),
    "transactions": timedelta(hours=1),
    "itunes": timedelta(days=35),
}


def test_every_silver_and_gold_table_of_a_source_carries_its_sla() -> None:
    from lakehouse_assets.definitions import build_definitions

    graph = build_definitions(settings.Deployment.LOCAL).resolve_asset_graph()
    seen: dict[str, set[timedelta]] = {}
    for key in graph.get_all_asset_keys():
        layer, source, _ = key.path
        policy = graph.get(key).freshness_policy
        if source not in SLAS:
            continue
        if layer in ("raw", "bronze"):
            assert policy is None, key
            continue
        assert policy is not None, key
        seen.setdefault(source, set()).add(policy.fail_window.to_timedelta())  # type: ignore[attr-defined]
    assert seen == {source: {sla} for source, sla in SLAS.items()}


DEMO = Source("demo", "A source for the sensor test.", freshness=timedelta(hours=26))


@dg.asset(key=DEMO.key("silver", "things"), **DEMO.asset_options("silver"))
def silver_things() -> None:
    """A silver table."""


@dg.asset(key=DEMO.key("gold", "summary"), deps=[silver_things], **DEMO.asset_options("gold"))
def gold_summary() -> None:
    """A gold table."""


@dg.asset(key=DEMO.key("bronze", "things"), **DEMO.asset_options("bronze"))
def bronze_things() -> None:
    """Bronze: no SLA."""


def outbox(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_breach_is_alerted_once_then_its_recovery(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    notifications = LocalNotificationsResource(outbox_path=str(path))
    now = [datetime.now(UTC)]
    sensor = build_freshness_sensor(clock=lambda: now[0])
    defs = dg.Definitions(
        assets=[silver_things, gold_summary, bronze_things],
        sensors=[sensor],
        resources={"notifications": notifications},
    )
    with dg.instance_for_test() as instance:
        cursor: list[str | None] = [None]

        def tick() -> str:
            context = dg.build_sensor_context(
                instance=instance,
                cursor=cursor[0],
                definitions=defs,
                resources={"notifications": notifications},
            )
            result = sensor(context)
            cursor[0] = context.cursor
            return str(result.skip_message)  # type: ignore[union-attr]

        assert "0 breach" in tick()  # never materialized: no age, no alert
        dg.materialize([silver_things, gold_summary], instance=instance)
        gold_key = DEMO.key("gold", "summary")
        event = instance.get_latest_materialization_event(gold_key)
        assert event is not None
        updated = datetime.fromtimestamp(event.timestamp, UTC)

        now[0] = updated + timedelta(hours=25)
        tick()
        assert outbox(path) == []

        now[0] = updated + timedelta(hours=27)
        assert tick().startswith("2 breach(es) and 0 recovery")
        alerts = outbox(path)
        assert [(a["topic"], a["message"]["asset"]) for a in alerts] == [  # type: ignore[index]
            ("gold", "gold/demo/summary"),
            ("silver", "silver/demo/things"),
        ]
        gold = alerts[0]
        assert gold["subject"] == (
            "[lakehouse] gold/demo/summary is older than its 26h freshness SLA"
        )
        message = gold["message"]
        assert message["alert"] == "freshness_breached"  # type: ignore[index]
        assert message["sla"] == "26h"  # type: ignore[index]
        assert message["last_update"] == updated.isoformat()  # type: ignore[index]
        assert message["age_hours"] == 27.0  # type: ignore[index]

        now[0] = updated + timedelta(hours=40)
        assert tick().startswith("0 breach(es) and 0 recovery")
        assert len(outbox(path)) == 2  # once per breach

        dg.materialize([silver_things, gold_summary], instance=instance)
        now[0] = datetime.now(UTC) + timedelta(minutes=1)
        assert tick().startswith("0 breach(es) and 2 recovery")
        recovered = outbox(path)[2:]
        assert [(a["topic"], a["subject"]) for a in recovered] == [
            ("gold", "[lakehouse] gold/demo/summary is fresh again within its 26h freshness SLA"),
            (
                "silver",
                "[lakehouse] silver/demo/things is fresh again within its 26h freshness SLA",
            ),
        ]
        assert recovered[0]["message"]["alert"] == "freshness_recovered"  # type: ignore[index]
        assert json.loads(cursor[0] or "{}") == {}
        assert tick().startswith("0 breach(es) and 0 recovery")
        assert len(outbox(path)) == 4


def test_a_failed_delivery_keeps_the_cursor_so_the_alert_comes_again(tmp_path: Path) -> None:
    class Unreachable(LocalNotificationsResource):
        def publish(self, layer: str | None, subject: str, message: dict[str, object]) -> str:
            raise ConnectionError("SNS endpoint unreachable")

    sensor = build_freshness_sensor(clock=lambda: datetime.now(UTC) + timedelta(days=2))
    unreachable = Unreachable(outbox_path=str(tmp_path / "o.jsonl"))
    defs = dg.Definitions(assets=[silver_things], sensors=[sensor])
    with dg.instance_for_test() as instance:
        dg.materialize([silver_things], instance=instance)
        context = dg.build_sensor_context(
            instance=instance, definitions=defs, resources={"notifications": unreachable}
        )
        with pytest.raises(Exception, match="failed 4 times"):
            sensor(context)
        assert context.cursor is None
