"""Snapshot partitions: partition P of a source's assets is the source as ingested during P.

Each partition is a whole version of a table (endpoints return full tables), not a slice of
one: the lake keeps every partition's version in history and the newest one as the current
table (``SNAPSHOT_METADATA`` tells the IO manager so). Days for daily sources, weeks starting
Monday for weekly ones, both in the pipeline's timezone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from lakehouse_assets.resources.io_manager import PARTITIONING_METADATA, SNAPSHOT_PARTITIONING
from lakehouse_assets.settings import PipelineSettings

SNAPSHOT_METADATA = {PARTITIONING_METADATA: SNAPSHOT_PARTITIONING}


def daily_snapshots(pipeline: PipelineSettings) -> dg.DailyPartitionsDefinition:
    """One partition per day up to and including today (in the pipeline's timezone)."""
    return dg.DailyPartitionsDefinition(
        start_date=pipeline.history_start, timezone=pipeline.timezone, end_offset=1
    )


def weekly_snapshots(pipeline: PipelineSettings) -> dg.WeeklyPartitionsDefinition:
    """One partition per week (Monday to Sunday) up to and including the current week."""
    return dg.WeeklyPartitionsDefinition(
        start_date=pipeline.history_start, timezone=pipeline.timezone, day_offset=1, end_offset=1
    )


def current_partition(partitions: dg.TimeWindowPartitionsDefinition) -> str:
    """The partition holding now (today, this week) in the partitions' timezone."""
    key = partitions.get_last_partition_key()
    if key is None:
        raise ValueError("the partitions definition has no partition yet")
    return key


def today(partitions: dg.TimeWindowPartitionsDefinition) -> str:
    return datetime.now(ZoneInfo(partitions.timezone)).strftime("%Y-%m-%d")
