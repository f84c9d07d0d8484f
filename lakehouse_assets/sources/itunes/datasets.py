"""What the iTunes source declares: its landed exports and the parameter that reads their dates."""

from __future__ import annotations

from datetime import timedelta

from lakehouse_assets.medallion.datasets import Column, DatasetSchema
from lakehouse_assets.medallion.landing import LandedDataset
from lakehouse_assets.medallion.source import Source
from lakehouse_assets.sources.itunes.exports import REQUIRED_COLUMNS, SAMPLE_DIRECTORY

#: Freshness SLA: exports are made by hand, about monthly (the samples are a month apart); a
#: month and a few days without one is worth a note to the owner, not a page.
ITUNES = Source(
    "itunes",
    "Play counts from iTunes 'Export Playlist' files landed in S3.",
    freshness=timedelta(days=35),
)
#: ``DMY`` (default) or ``MDY``: the exporting machine's locale, how its dates are read.
DATE_ORDER_PARAMETER = "/itunes/export/date_order"
DEFAULT_DATE_ORDER = "DMY"

TRACKS = LandedDataset(
    ITUNES,
    DatasetSchema(
        name="tracks",
        description="iTunes library exports (tab-separated .txt or spreadsheet .csv).",
        columns=tuple(Column(name, "string") for name in REQUIRED_COLUMNS),
        # The file path names the user: it stays in bronze and out of every preview.
        preview_excluded=("Location",),
    ),
    sample_directory=SAMPLE_DIRECTORY,
)
