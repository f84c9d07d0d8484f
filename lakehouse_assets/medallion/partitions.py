"""Daily snapshot partitions: partition D of every WordPress asset is the site as ingested on D.

Each partition is a whole version of a table (the endpoints return full tables), not a slice of
one: the lake keeps every day's version in history and the newest one as the current table.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from lakehouse_assets.lake.io_manager import PARTITIONING_METADATA, SNAPSHOT_PARTITIONING
from lakehouse_assets.settings import PipelineSettings

SNAPSHOT_METADATA = {PARTITIONING_METADATA: SNAPSHOT_PARTITIONING}


def daily_snapshots(schedule: PipelineSettings) -> dg.DailyPartitionsDefinition:
    """One partition per day up to and including today (in the schedule's timezone)."""
    return dg.DailyPartitionsDefinition(
        start_date=schedule.history_start, timezone=schedule.timezone, end_offset=1
    )


def today(partitions: dg.DailyPartitionsDefinition) -> str:
    return datetime.now(ZoneInfo(partitions.timezone)).strftime("%Y-%m-%d")
