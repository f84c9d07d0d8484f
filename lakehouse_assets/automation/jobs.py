"""When the WordPress pipeline runs: daily at 07:00 in the configured timezone (the EventBridge
rule of the original stack), ingesting that day's partition."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.settings import PipelineSettings
from lakehouse_assets.sources.wordpress_api.datasets import SOURCE

MAX_RUNTIME_SECONDS = 60 * 60


def build_job() -> dg.UnresolvedAssetJobDefinition:
    """The job over the whole group; its daily partitions come from the assets."""
    return dg.define_asset_job(
        f"{SOURCE}_job",
        selection=dg.AssetSelection.groups(SOURCE),
        description="Every WordPress asset for one day: raw snapshots through the gold table.",
        # `source`: a deployment's run queue lets one run per source in at a time
        # (deploy/dagster.yaml). `dagster/max_runtime`: run monitoring stops a hung run.
        # `dagster/max_retries`: a crashed run is relaunched once; a hung source is not retried
        # three times (a run past its max runtime fails, and run retries would relaunch it).
        tags={
            "source": SOURCE,
            "dagster/max_runtime": str(MAX_RUNTIME_SECONDS),
            "dagster/max_retries": "1",
        },
    )


def build_daily_schedule(
    job: dg.UnresolvedAssetJobDefinition, schedule: PipelineSettings
) -> dg.UnresolvedPartitionedAssetScheduleDefinition | dg.ScheduleDefinition:
    status = (
        dg.DefaultScheduleStatus.RUNNING if schedule.running else dg.DefaultScheduleStatus.STOPPED
    )
    return dg.build_schedule_from_partitioned_job(
        job,
        name=f"{SOURCE}_daily",
        description="Ingests the WordPress site every day at 07:00 and rebuilds bronze to gold.",
        hour_of_day=7,
        minute_of_hour=0,
        default_status=status,
    )
