"""The deployment configuration works as a deployment, not only as a file that parses.

`deploy/dagster.yaml` is the one thing the `aws` deployment and a self-hosted one share. These
tests run it for real: a PostgreSQL database of its own, `dagster-webserver` and
`dagster-daemon run` as separate processes, the WordPress graph launched over GraphQL the way the
UI's "Materialize all" and a job launch do, and the outcome read back with plain SQL from the
runs and event_logs tables, so a run that only "looked" successful in memory cannot pass.
It also proves the per-source limit: two WordPress runs launched together never overlap.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from dagster import EventLogEntry, deserialize_value

from lakehouse_assets_tests.deployment.conftest import JOB, MaterializedDeployment

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(420),
    pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning"),
]

GOLD = ["gold", "wordpress_api", "statistics_postname"]


def materializations(materialized: MaterializedDeployment, run_id: str) -> dict[str, Any]:
    """Asset key → materialization event of the run, straight from the event_logs table."""
    rows = materialized.deployment.sql(
        "SELECT asset_key, partition, event FROM event_logs "
        "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        run_id,
    )
    found = {}
    for asset_key, partition, body in rows:
        assert partition == materialized.partition, (asset_key, partition)
        entry = deserialize_value(body, EventLogEntry)
        assert entry.asset_materialization is not None
        found[asset_key] = entry.asset_materialization
    return found


def key_column(path: list[str]) -> str:
    """How the event_logs.asset_key column stores a key."""
    return "[" + ", ".join(f'"{part}"' for part in path) + "]"


def test_both_runs_succeed_and_are_stored_in_postgres(materialized: MaterializedDeployment):
    assert materialized.statuses == {
        materialized.ui_run_id: "SUCCESS",
        materialized.job_run_id: "SUCCESS",
    }, materialized.deployment.tails()
    rows = materialized.deployment.sql(
        "SELECT run_id, pipeline_name, status FROM runs WHERE run_id IN (%s, %s)",
        materialized.ui_run_id,
        materialized.job_run_id,
    )
    assert sorted(rows) == sorted(
        [
            (materialized.ui_run_id, "__ASSET_JOB", "SUCCESS"),
            (materialized.job_run_id, JOB, "SUCCESS"),
        ]
    )


def test_every_asset_materialized_in_each_run(materialized: MaterializedDeployment):
    expected = {key_column(path) for path in materialized.asset_keys}
    assert len(expected) == 10  # 3 raw, 3 bronze, 3 silver, 1 gold
    for run_id in (materialized.ui_run_id, materialized.job_run_id):
        assert set(materializations(materialized, run_id)) == expected


def test_gold_metadata_in_postgres_matches_the_lake(materialized: MaterializedDeployment):
    gold = materializations(materialized, materialized.job_run_id)[key_column(GOLD)]
    row_count = gold.metadata["dagster/row_count"].value
    assert isinstance(row_count, int) and row_count > 0
    table = pd.read_parquet(
        materialized.deployment.lakehouse_root
        / "data-lakehouse-gold"
        / "wordpress_api"
        / "statistics_postname"
    )
    assert len(table) == row_count
    assert list(table.columns[:2]) == ["post_ID", "post_title"]


def test_blocking_checks_recorded(materialized: MaterializedDeployment):
    rows = materialized.deployment.sql(
        "SELECT COUNT(*) FROM event_logs "
        "WHERE run_id = %s AND dagster_event_type = 'ASSET_CHECK_EVALUATION'",
        materialized.ui_run_id,
    )
    # silver: 6 checks each; gold: a volume check; bronze: volume and schema_drift each
    assert rows == [(25,)]


def test_runs_of_one_source_never_overlap(materialized: MaterializedDeployment):
    """Pool `wordpress_api` (limit 1, run granularity): the second run waited in the queue."""
    rows = materialized.deployment.sql(
        "SELECT run_id, start_time, end_time FROM runs WHERE run_id IN (%s, %s) "
        "ORDER BY start_time",
        materialized.ui_run_id,
        materialized.job_run_id,
    )
    (_, _, first_end), (_, second_start, _) = rows
    assert first_end is not None and second_start is not None
    assert second_start >= first_end, rows


def test_job_runs_carry_the_source_tag(materialized: MaterializedDeployment):
    rows = materialized.deployment.sql(
        "SELECT key, value FROM run_tags WHERE run_id = %s AND key = 'source'",
        materialized.job_run_id,
    )
    assert rows == [("source", "wordpress_api")]


def test_instance_runs_with_the_deployment_settings(materialized: MaterializedDeployment):
    """The daemon really uses the file's settings (run monitoring, retries, queue limits)."""
    info = materialized.deployment.dagster("instance", "info")
    assert "PostgresRunStorage" in info and "PostgresEventLogStorage" in info
    daemons = materialized.deployment.graphql(
        "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
    )["instance"]["daemonHealth"]["allDaemonStatuses"]
    required = {d["daemonType"]: d["healthy"] for d in daemons if d["required"]}
    for daemon in ("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING"):
        assert required.get(daemon) is True, required
