"""The transactions pipeline: one sensor batches what lands under orders/ and items/, and one run
per batch parses its files (bronze) and merges them into silver ``enriched``."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.automation.batch_sensor import build_batch_sensor
from lakehouse_assets.automation.jobs import MAX_RUNTIME_SECONDS
from lakehouse_assets.sources.transactions.assets import (
    BATCHES,
    build_bronze_items,
    build_bronze_orders,
    build_silver_enriched,
)
from lakehouse_assets.sources.transactions.datasets import ITEMS, ORDERS, TRANSACTIONS

JOB_NAME = f"landing__{TRANSACTIONS.name}__batches_job"
SENSOR_NAME = f"landing__{TRANSACTIONS.name}__batches_sensor"


def build_definitions() -> dg.Definitions:
    assets = [build_bronze_orders(), build_bronze_items(), build_silver_enriched()]
    job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.groups(TRANSACTIONS.name),
        description="One batch of landed order and item files: bronze records, then silver "
        "enriched date partitions merged.",
        # As `build_source_job`: one run per source at a time, bounded runtime, one relaunch.
        tags={
            "source": TRANSACTIONS.name,
            "dagster/max_runtime": str(MAX_RUNTIME_SECONDS),
            "dagster/max_retries": "1",
        },
    )
    sensor = build_batch_sensor(
        name=SENSOR_NAME,
        job=job,
        source=TRANSACTIONS.name,
        prefixes=[ORDERS.landing_prefix, ITEMS.landing_prefix],
        partitions_def=BATCHES,
        description="One run per batch of order/item file versions landing in "
        "raw/landing/transactions/ (each version in exactly one batch).",
    )
    return dg.Definitions(assets=assets, jobs=[job], sensors=[sensor])
