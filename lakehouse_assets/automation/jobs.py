"""A source's job and schedule: the whole group in one run, on the source's timetable (the
EventBridge rules of the original stack), ingesting the current partition."""

from __future__ import annotations

from typing import Any, TypeAlias

import dagster as dg

from lakehouse_assets.medallion.source import Source
from lakehouse_assets.settings import PipelineSettings

MAX_RUNTIME_SECONDS = 60 * 60

#: What ``dg.define_asset_job`` returns. Dagster does not export that class, so code here names
#: it by this alias rather than by a private import.
AssetJob: TypeAlias = Any
#: What ``dg.build_schedule_from_partitioned_job`` returns (its class is not exported either).
PartitionedSchedule: TypeAlias = Any


def source_job_name(source: Source) -> str:
    return f"{source.name}_job"


def build_source_job(
    source: Source, description: str, selection: dg.AssetSelection | None = None
) -> AssetJob:
    """The job over the source's group (or ``selection``); partitions come from the assets."""
    return dg.define_asset_job(
        source_job_name(source),
        selection=selection or dg.AssetSelection.groups(source.name),
        description=description,
        # `source`: a deployment's run queue lets one run per source in at a time
        # (deploy/dagster.yaml). `dagster/max_runtime`: run monitoring stops a hung run.
        # `dagster/max_retries`: a crashed run is relaunched once; a hung source is not retried
        # three times (a run past its max runtime fails, and run retries would relaunch it).
        tags={
            "source": source.name,
            "dagster/max_runtime": str(MAX_RUNTIME_SECONDS),
            "dagster/max_retries": "1",
        },
    )


def build_partitioned_schedule(
    job: AssetJob,
    pipeline: PipelineSettings,
    *,
    name: str,
    description: str,
    hour_of_day: int = 7,
    day_of_week: int | None = None,
) -> PartitionedSchedule:
    """Runs ``job`` for each new partition: daily at ``hour_of_day``, or weekly on
    ``day_of_week`` (0 = Sunday, as cron counts); RUNNING on a deployment, STOPPED on a laptop."""
    status = (
        dg.DefaultScheduleStatus.RUNNING if pipeline.running else dg.DefaultScheduleStatus.STOPPED
    )
    return dg.build_schedule_from_partitioned_job(
        job,
        name=name,
        description=description,
        hour_of_day=hour_of_day,
        minute_of_hour=0,
        day_of_week=day_of_week,
        default_status=status,
    )


def scheduled_source_definitions(
    source: Source,
    assets: list[dg.AssetsDefinition],
    pipeline: PipelineSettings,
    *,
    job_description: str,
    schedule_name: str,
    schedule_description: str,
    hour_of_day: int = 7,
    day_of_week: int | None = None,
) -> dg.Definitions:
    """A scheduled source's Definitions: its assets, the job over its group and the schedule
    that runs it for each new partition."""
    job = build_source_job(source, job_description)
    schedule = build_partitioned_schedule(
        job,
        pipeline,
        name=schedule_name,
        description=schedule_description,
        hour_of_day=hour_of_day,
        day_of_week=day_of_week,
    )
    return dg.Definitions(assets=assets, jobs=[job], schedules=[schedule])
