"""The shop pipeline: each landed file becomes one typed bronze partition, one run per file."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import dagster as dg

from lakehouse_assets.lake.object_store import ObjectInfo
from lakehouse_assets.medallion.landed_files import parse_landed_file
from lakehouse_assets.medallion.landing import (
    LandedDataset,
    ParsedFile,
    arriving_columns,
    build_landed_file_asset,
    build_landed_file_job,
    build_landed_file_sensor,
)
from lakehouse_assets.sources.shop.datasets import LANDED_DATASETS


def parse(
    landed: LandedDataset, body: bytes, info: ObjectInfo, processed_at: datetime
) -> ParsedFile:
    parsed = parse_landed_file(body, info.key, landed.schema, processed_at)
    return ParsedFile(
        parsed.table,
        {
            "file_format": parsed.file_format,
            "rows_in": parsed.rows_in,
            "duplicate_rows_removed": parsed.duplicate_rows_removed,
            "superseded_rows_removed": parsed.superseded_rows_removed,
            "ignored_columns": list(parsed.ignored_columns),
        },
        source_columns=arriving_columns(landed.schema, parsed.ignored_columns),
    )


def build_definitions() -> dg.Definitions:
    assets, jobs, sensors = [], [], []
    for landed in LANDED_DATASETS:
        assets.append(
            build_landed_file_asset(
                landed,
                partial(parse, landed),
                description=f"{landed.schema.description} One partition per file landed in "
                f"raw/{landed.landing_prefix}, typed and deduplicated.",
            )
        )
        job = build_landed_file_job(landed)
        jobs.append(job)
        sensors.append(build_landed_file_sensor(landed, job))
    return dg.Definitions(assets=assets, jobs=jobs, sensors=sensors)
