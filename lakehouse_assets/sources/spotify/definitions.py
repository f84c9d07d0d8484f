"""The Spotify pipeline: Web API pages → raw → bronze → silver → gold, weekly."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.automation.jobs import scheduled_source_definitions
from lakehouse_assets.medallion.partitions import weekly_snapshots
from lakehouse_assets.settings import PipelineSettings
from lakehouse_assets.sources.spotify.assets import (
    build_bronze_assets,
    build_gold_chart,
    build_silver_asset,
)
from lakehouse_assets.sources.spotify.datasets import DATASETS, SPOTIFY
from lakehouse_assets.sources.spotify.raw import build_raw_assets

MONDAY = 1  # cron's day of week


def build_definitions(pipeline: PipelineSettings) -> dg.Definitions:
    """The source's assets, job and schedule, partitioned by week (Monday to Sunday)."""
    partitions = weekly_snapshots(pipeline)
    assets = [
        *build_raw_assets(partitions, pipeline),
        *build_bronze_assets(partitions),
        *(build_silver_asset(d.name, partitions) for d in DATASETS),
        build_gold_chart(partitions),
    ]
    return scheduled_source_definitions(
        SPOTIFY,
        assets,
        pipeline,
        job_description="Every Spotify asset for one week: raw API pages through the chart.",
        schedule_name=f"{SPOTIFY.name}_weekly",
        schedule_description="Ingests the Spotify playlists and top tracks every Monday at 07:00.",
        day_of_week=MONDAY,
    )
