"""The iTunes pipeline: each landed export → a bronze partition; silver and gold follow."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.automation.jobs import build_source_job
from lakehouse_assets.medallion.landing import (
    build_landed_file_asset,
    build_landed_file_job,
    build_landed_file_sensor,
)
from lakehouse_assets.sources.itunes.assets import (
    build_gold_play_history,
    build_silver_tracks,
    parse,
)
from lakehouse_assets.sources.itunes.datasets import ITUNES, TRACKS


def build_definitions() -> dg.Definitions:
    bronze = build_landed_file_asset(
        TRACKS,
        parse,
        description="One partition per iTunes export landed in raw/landing/itunes/tracks/: "
        "every column as text (Location included: it goes no further than bronze).",
    )
    landing_job = build_landed_file_job(TRACKS)
    refresh = build_source_job(
        ITUNES,
        "Silver tracks (the newest export) and gold play history (every export).",
        selection=dg.AssetSelection.assets(
            ITUNES.key("silver", "tracks"), ITUNES.key("gold", "play_history")
        ),
    )
    return dg.Definitions(
        assets=[bronze, build_silver_tracks(), build_gold_play_history()],
        jobs=[landing_job, refresh],
        sensors=[build_landed_file_sensor(TRACKS, landing_job)],
    )
