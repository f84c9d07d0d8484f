"""Test-only code location: the production definitions plus a schedule that ticks every minute.

Only the deployment tests load it (so a daemon tick happens within a bounded wait); the
production schedules are untouched and keep their own cron and timezone.
"""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.definitions import build_definitions

SCHEDULE_NAME = "wordpress_api_every_minute"
LOCATION_NAME = "lakehouse_assets_every_minute"
JOB_NAME = "wordpress_api_job"


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


# The only Definitions object at module scope (Dagster refuses a module with two).
defs = dg.Definitions.merge(build_definitions(), dg.Definitions(schedules=[every_minute]))
