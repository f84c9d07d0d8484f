"""The WordPress pipeline: REST endpoints → raw JSON → bronze → silver → gold."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from lakehouse_assets.settings import PipelineSettings
from lakehouse_assets.sources.wordpress_api.bronze import build_bronze_assets
from lakehouse_assets.sources.wordpress_api.gold import build_gold_asset
from lakehouse_assets.sources.wordpress_api.partitions import daily_snapshots
from lakehouse_assets.sources.wordpress_api.raw import build_raw_assets
from lakehouse_assets.sources.wordpress_api.schedules import build_daily_schedule, build_job
from lakehouse_assets.sources.wordpress_api.silver import build_silver_assets


@dataclass(frozen=True)
class WordPressDefinitions:
    assets: list[dg.AssetsDefinition]
    job: dg.UnresolvedAssetJobDefinition
    schedule: dg.UnresolvedPartitionedAssetScheduleDefinition | dg.ScheduleDefinition
    partitions: dg.DailyPartitionsDefinition


def build(pipeline: PipelineSettings) -> WordPressDefinitions:
    """The source's assets, job and schedule, partitioned by ingestion day."""
    partitions = daily_snapshots(pipeline)
    assets = [
        *build_raw_assets(partitions, pipeline),
        *build_bronze_assets(partitions),
        *build_silver_assets(partitions),
        build_gold_asset(partitions),
    ]
    job = build_job()
    return WordPressDefinitions(assets, job, build_daily_schedule(job, pipeline), partitions)
