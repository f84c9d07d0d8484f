"""Generic file landing: JSON or CSV files dropped in the raw bucket → bronze partitions."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.sources.landing.assets import (
    build_landing_asset,
    build_landing_dataset_sensor,
    build_landing_job,
)
from lakehouse_assets.sources.landing.datasets import LANDING_DATASETS

ASSETS: list[dg.AssetsDefinition] = [build_landing_asset(d) for d in LANDING_DATASETS]
JOBS = [build_landing_job(d) for d in LANDING_DATASETS]
SENSORS: list[dg.SensorDefinition] = [
    build_landing_dataset_sensor(dataset, job)
    for dataset, job in zip(LANDING_DATASETS, JOBS, strict=True)
]
