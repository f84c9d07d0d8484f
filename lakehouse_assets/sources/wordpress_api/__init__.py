"""The WordPress pipeline: REST endpoints → raw JSON → bronze → silver → gold."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.sources.wordpress_api.bronze import BRONZE_ASSETS
from lakehouse_assets.sources.wordpress_api.datasets import SOURCE
from lakehouse_assets.sources.wordpress_api.gold import statistics_postname
from lakehouse_assets.sources.wordpress_api.raw import RAW_ASSETS
from lakehouse_assets.sources.wordpress_api.silver import SILVER_ASSETS

ASSETS: list[dg.AssetsDefinition] = [
    *RAW_ASSETS,
    *BRONZE_ASSETS,
    *SILVER_ASSETS,
    statistics_postname,
]

JOB = dg.define_asset_job(
    f"{SOURCE}_job",
    selection=dg.AssetSelection.groups(SOURCE),
    description="Every WordPress asset: raw snapshots through the gold table.",
    # Run tag: a deployment's run queue lets one run per source in at a time (deploy/dagster.yaml).
    tags={"source": SOURCE},
)
