"""The WordPress pipeline: REST endpoints → raw JSON → bronze → silver → gold, daily."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.automation.jobs import scheduled_source_definitions
from lakehouse_assets.medallion.layers import build_bronze_asset, build_silver_asset
from lakehouse_assets.medallion.partitions import daily_snapshots
from lakehouse_assets.settings import PipelineSettings
from lakehouse_assets.sources.wordpress_api.datasets import DATASETS, SOURCE, WORDPRESS
from lakehouse_assets.sources.wordpress_api.gold import build_gold_asset
from lakehouse_assets.sources.wordpress_api.raw import build_raw_assets


def build_definitions(pipeline: PipelineSettings) -> dg.Definitions:
    """The source's assets, job and schedule, partitioned by ingestion day."""
    partitions = daily_snapshots(pipeline)
    assets = [
        *build_raw_assets(partitions, pipeline),
        *(build_bronze_asset(WORDPRESS, schema, partitions) for schema in DATASETS),
        *(build_silver_asset(WORDPRESS, schema, partitions) for schema in DATASETS),
        build_gold_asset(partitions),
    ]
    return scheduled_source_definitions(
        WORDPRESS,
        assets,
        pipeline,
        job_description="Every WordPress asset for one day: raw snapshots through the gold table.",
        schedule_name=f"{SOURCE}_daily",
        schedule_description="Ingests the WordPress site every day at 07:00 and rebuilds "
        "bronze to gold.",
    )
