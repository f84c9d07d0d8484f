"""A schedule turned on through the API is ticked by the daemon and its run succeeds.

Schedules replace the EventBridge rules of the original stack; what users rely on is that a
schedule switched on in the UI starts runs without anyone watching. The test turns one on with
the UI's `startSchedule` mutation on a deployment of `deploy/dagster.yaml` and waits, bounded, for
the daemon's tick and the run it launched, read back from PostgreSQL. The schedule ticks every
minute and lives in a test-only code location (`every_minute.py`); production schedules are not
touched.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from lakehouse_assets_tests.deployment.deployment import REPO_ROOT, REPOSITORY, running_deployment
from lakehouse_assets_tests.deployment.every_minute import LOCATION_NAME, SCHEDULE_NAME

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

SCHEDULE_RUNS = """
query Runs($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) {
    ... on Runs { results { runId status } }
  }
}
"""


def test_schedule_started_through_graphql_ticks_and_its_run_succeeds(tmp_path: Path):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {
                        "python_module": {
                            "module_name": "lakehouse_assets_tests.deployment.every_minute",
                            "location_name": LOCATION_NAME,
                            "working_directory": str(REPO_ROOT),
                        }
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    with running_deployment(tmp_path, workspace) as deployment:
        selector = {
            "repositoryLocationName": LOCATION_NAME,
            "repositoryName": REPOSITORY,
            "scheduleName": SCHEDULE_NAME,
        }
        started = deployment.graphql(START_SCHEDULE, {"selector": selector})["startSchedule"]
        assert started == {
            "__typename": "ScheduleStateResult",
            "scheduleState": {"status": "RUNNING"},
        }

        # The next minute boundary, plus the daemon's iteration, plus launch: bounded at 150 s.
        tags = [{"key": "dagster/schedule_name", "value": SCHEDULE_NAME}]
        deadline = time.monotonic() + 150
        runs: list[dict[str, str]] = []
        while time.monotonic() < deadline and not runs:
            deployment.assert_alive()
            runs = deployment.graphql(SCHEDULE_RUNS, {"tags": tags})["runsOrError"]["results"]
            time.sleep(2)
        assert runs, f"no scheduled run within 150 s\n{deployment.tails()}"
        run_id = runs[-1]["runId"]
        assert deployment.wait_for_runs([run_id], timeout=240) == {run_id: "SUCCESS"}

        # Read back from PostgreSQL: the tick, the run and its tags, the gold materialization.
        ticks = deployment.sql(
            "SELECT status, tick_body FROM job_ticks WHERE selector_id IS NOT NULL"
        )
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
