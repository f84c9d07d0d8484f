"""What the daemon of a deployment does unattended: schedule ticks and run monitoring.

Schedules replace the EventBridge rules of the original stack, and Step Functions' task timeout
is replaced by `dagster/max_runtime`; both only work if the daemon of a deployment configured by
`deploy/dagster.yaml` acts on them, with nobody watching. On a PostgreSQL deployment of that
file, these tests turn a schedule on with the UI's `startSchedule` mutation and wait, bounded,
for the daemon's tick and the run it launched; and launch a job that outlives its
`dagster/max_runtime` and wait for run monitoring to cancel it. Outcomes are read back from
PostgreSQL. The every-minute schedule and the overrunning job live in a test-only code location
(`daemon_location.py`); production definitions are not touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml

from lakehouse_assets_tests.deployment.daemon_location import (
    LOCATION_NAME,
    MAX_RUNTIME_SECONDS,
    OVERRUNNING_JOB,
    SCHEDULE_NAME,
)
from lakehouse_assets_tests.deployment.deployment import (
    REPO_ROOT,
    REPOSITORY,
    Deployment,
    running_deployment,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(420),
    pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning"),
]

START_SCHEDULE = """
mutation Start($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""

RESET_SCHEDULE = """
mutation Reset($selector: ScheduleSelector!) {
  resetSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
  }
}
"""

RUNS_WITH_TAGS = """
query Runs($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) {
    ... on Runs { results { runId status } }
  }
}
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("daemon")
    workspace = tmp / "workspace.yaml"
    location = {
        "module_name": "lakehouse_assets_tests.deployment.daemon_location",
        "location_name": LOCATION_NAME,
        "working_directory": str(REPO_ROOT),
    }
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": location}]}))
    with running_deployment(tmp, workspace) as running:
        yield running


def wait_for_scheduled_run(deployment: Deployment) -> str:
    """The next minute boundary, plus the daemon's iteration, plus launch: bounded at 150 s."""
    tags = [{"key": "dagster/schedule_name", "value": SCHEDULE_NAME}]
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        deployment.assert_alive()
        runs = deployment.graphql(RUNS_WITH_TAGS, {"tags": tags})["runsOrError"]["results"]
        if runs:
            return str(runs[-1]["runId"])
        time.sleep(2)
    raise AssertionError(f"no scheduled run within 150 s\n{deployment.tails()}")


def test_schedule_started_through_graphql_ticks_and_its_run_succeeds(deployment: Deployment):
    selector = {
        "repositoryLocationName": LOCATION_NAME,
        "repositoryName": REPOSITORY,
        "scheduleName": SCHEDULE_NAME,
    }
    started = deployment.graphql(START_SCHEDULE, {"selector": selector})["startSchedule"]
    assert started == {"__typename": "ScheduleStateResult", "scheduleState": {"status": "RUNNING"}}
    try:
        run_id = wait_for_scheduled_run(deployment)
    finally:  # back to its default (stopped): no more runs while other tests use the daemon
        deployment.graphql(RESET_SCHEDULE, {"selector": selector})
    assert deployment.wait_for_runs([run_id], timeout=240) == {run_id: "SUCCESS"}

    # Read back from PostgreSQL: the tick, the run and its tags, the gold materialization.
    ticks = deployment.sql("SELECT status, tick_body FROM job_ticks")
    assert any(status == "SUCCESS" and run_id in body for status, body in ticks), ticks
    assert deployment.sql("SELECT status FROM runs WHERE run_id = %s", run_id) == [("SUCCESS",)]
    tag_rows = deployment.sql(
        "SELECT key, value FROM run_tags WHERE run_id = %s AND key IN (%s, %s)",
        run_id,
        "dagster/schedule_name",
        "source",
    )
    assert sorted(tag_rows) == [
        ("dagster/schedule_name", SCHEDULE_NAME),
        ("source", "wordpress_api"),
    ]
    gold = deployment.sql(
        "SELECT COUNT(*) FROM event_logs WHERE run_id = %s "
        "AND dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s",
        run_id,
        '["gold", "wordpress_api", "statistics_postname"]',
    )
    assert gold == [(1,)]


def test_run_monitoring_fails_a_run_past_its_max_runtime_and_it_is_retried(
    deployment: Deployment,
):
    """`dagster/max_runtime` is enforced only with run monitoring on. The
    monitor fails the run, which is not an asset failure, so run retries launch it again."""
    run_id = deployment.client().submit_job_execution(
        OVERRUNNING_JOB, repository_location_name=LOCATION_NAME
    )
    # Monitoring polls every 30 s (deploy/dagster.yaml); the op would sleep for 300 s.
    statuses = deployment.wait_for_runs([run_id], timeout=150)
    assert statuses == {run_id: "FAILURE"}, deployment.tails()
    ((start, end),) = deployment.sql(
        "SELECT start_time, end_time FROM runs WHERE run_id = %s", run_id
    )
    assert MAX_RUNTIME_SECONDS < end - start < 90
    reasons = deployment.sql(
        "SELECT dagster_event_type FROM event_logs WHERE run_id = %s AND event LIKE %s",
        run_id,
        f"%Exceeded maximum runtime of {MAX_RUNTIME_SECONDS} seconds%",
    )
    assert reasons == [("PIPELINE_FAILURE",)]
    # The daemon's event-log consumer launches the retry shortly after the failure.
    deadline = time.monotonic() + 60
    retries: list[tuple[object, ...]] = []
    while time.monotonic() < deadline and not retries:
        retries = deployment.sql(
            "SELECT t.value FROM run_tags p "
            "JOIN run_tags t ON t.run_id = p.run_id AND t.key = 'dagster/retry_number' "
            "WHERE p.key = 'dagster/parent_run_id' AND p.value = %s",
            run_id,
        )
        time.sleep(1)
    assert retries == [("1",)], deployment.tails()
