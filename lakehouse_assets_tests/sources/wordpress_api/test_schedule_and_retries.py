"""The daily schedule (cron, timezone, target) and the retry behaviour users rely on:
transient HTTP errors are retried and recorded, a 400 is not retried at any level."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.settings import Deployment
from lakehouse_assets_tests.conftest import (
    SEGMENTS,
    FixtureSite,
    LocalLake,
    run_wordpress_job,
    step_errors,
    write_parameters,
)
from lakehouse_assets_tests.http_fixtures import Scripted, scripted_server


def test_daily_schedule_at_seven_in_the_configured_timezone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defs = build_definitions(Deployment.LOCAL)
    schedule = defs.resolve_schedule_def("wordpress_api_daily")
    assert schedule.cron_schedule == "0 7 * * *"
    assert schedule.execution_timezone == "Europe/London"
    assert schedule.job_name == "wordpress_api_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert (
        build_definitions(Deployment.AWS).resolve_schedule_def("wordpress_api_daily").default_status
        == dg.DefaultScheduleStatus.RUNNING
    )

    monkeypatch.setenv("LAKEHOUSE_TIMEZONE", "America/New_York")
    other = build_definitions(Deployment.LOCAL).resolve_schedule_def("wordpress_api_daily")
    assert other.execution_timezone == "America/New_York"


def test_schedule_tick_requests_that_days_partition_of_the_job() -> None:
    defs = build_definitions(Deployment.LOCAL)
    schedule = defs.resolve_schedule_def("wordpress_api_daily")
    tick = datetime(2026, 11, 21, 7, 0, tzinfo=ZoneInfo("Europe/London"))
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        data = schedule.evaluate_tick(context)
    assert data.run_requests is not None and len(data.run_requests) == 1
    request = data.run_requests[0]
    assert request.partition_key == "2026-11-21"
    assert request.tags["dagster/partition"] == "2026-11-21"
    job = defs.resolve_job_def("wordpress_api_job")
    assert job.tags["dagster/max_runtime"] == "3600"


def run_with_scripted_posts(
    lake: LocalLake, site: FixtureSite, *answers: Scripted, **overrides: object
) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    """Run the job with the posts endpoint answered by ``answers`` (the last one repeats);
    returns the result and the requests the endpoint received."""
    with scripted_server() as server:
        path = f"/wp-json/scripted/v1/{SEGMENTS['posts']}/"
        server.add(path, *answers)
        urls = [u for u in site.urls() if "posts" not in u] + [server.base_url + path]
        write_parameters(lake.parameters_file, urls)
        return run_wordpress_job(**overrides), server.requests


def retries_of(result: dg.ExecuteInProcessResult) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


def test_flaky_endpoint_succeeds_with_retries_recorded(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource

    posts = json.dumps(fixture_site.tables["posts"]).encode()
    result, requests = run_with_scripted_posts(
        local_lake,
        fixture_site,
        Scripted(500, b"oops"),
        Scripted(500, b"oops"),
        Scripted(200, posts),
        wordpress_api=WordPressApiResource(backoff_seconds=0.01),
    )
    assert result.success, step_errors(result)
    assert len(requests) == 3
    meta = result.asset_materializations_for_node("raw__wordpress_api__posts")[0].metadata
    assert meta["http_attempts"].value == 3
    assert meta["dagster/row_count"].value == len(fixture_site.tables["posts"])


def test_400_is_not_retried_by_the_client_or_the_step(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    result, requests = run_with_scripted_posts(
        local_lake, fixture_site, Scripted(400, b'{"code":"rest_invalid_param"}')
    )
    assert len(requests) == 1
    assert step_errors(result) == {
        "raw__wordpress_api__posts": "SourceError: wordpress_api/posts: HTTP 400 on page 1"
    }
    assert retries_of(result) == []


def test_transient_failure_is_retried_by_the_step_policy(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource

    result, requests = run_with_scripted_posts(
        local_lake,
        fixture_site,
        Scripted(503, b"down"),
        wordpress_api=WordPressApiResource(max_attempts=2, backoff_seconds=0.01),
    )
    assert len(requests) == 6  # 2 HTTP attempts × (1 try + 2 step retries)
    assert len(retries_of(result)) == 2
    assert step_errors(result)["raw__wordpress_api__posts"] == (
        "SourceError: wordpress_api/posts: HTTP 503 on page 1 after 2 attempts"
    )
