"""Test-only code location for the daemon tests: the production definitions, plus a schedule
that ticks every minute and a job that outlives its `dagster/max_runtime`.

Only the deployment tests load it (so the daemon acts within a bounded wait); the production
schedules and jobs are untouched and keep their own cron, timezone and limits.
"""

from __future__ import annotations

import time

import dagster as dg

from lakehouse_assets.definitions import build_definitions

LOCATION_NAME = "lakehouse_assets_daemon_tests"
SCHEDULE_NAME = "wordpress_api_every_minute"
JOB_NAME = "wordpress_api_job"
OVERRUNNING_JOB = "overruns_max_runtime"
MAX_RUNTIME_SECONDS = 5


@dg.schedule(
    name=SCHEDULE_NAME,
    cron_schedule="* * * * *",
    job_name=JOB_NAME,
    execution_timezone="UTC",
    description="Test only: the WordPress job for the newest partition, every minute.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def every_minute(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    partitions = defs.resolve_job_def(JOB_NAME).partitions_def
    assert partitions is not None
    return dg.RunRequest(partition_key=partitions.get_last_partition_key())


@dg.op
def wait_far_too_long() -> None:
    """Sleeps for 5 minutes unless run monitoring terminates the run first."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.5)


@dg.job(
    name=OVERRUNNING_JOB,
    tags={"dagster/max_runtime": str(MAX_RUNTIME_SECONDS)},
    description="Test only: runs past its dagster/max_runtime.",
)
def overruns_max_runtime() -> None:
    wait_far_too_long()


# The only Definitions object at module scope (Dagster refuses a module with two).
defs = dg.Definitions.merge(
    build_definitions(),
    dg.Definitions(jobs=[overruns_max_runtime], schedules=[every_minute]),
)
