"""The shop's landed datasets: orders as JSON, customers as CSV, each checked against its columns.

A file dropped under ``landing/shop/{dataset}/`` in the raw bucket becomes one partition of the
bronze table ``[bronze, shop, dataset]`` (Parquet at ``shop/{dataset}/{file}/`` in the bronze
bucket). Adding a dataset is one entry here.
"""

from __future__ import annotations

from datetime import timedelta

from lakehouse_assets.medallion.datasets import Column, DatasetSchema
from lakehouse_assets.medallion.landing import LandedDataset
from lakehouse_assets.medallion.source import Source

#: Freshness SLA: a daily export is assumed (no contract names the shop's cadence).
SHOP = Source("shop", "Shop orders and customers exported as files.", freshness=timedelta(hours=26))

ORDERS = LandedDataset(
    SHOP,
    DatasetSchema(
        name="orders",
        description="Shop orders exported as JSON (an array, or one object per line).",
        columns=(
            Column("order_id", "int64", nullable=False),
            Column("customer_id", "int64", nullable=False),
            Column("amount", "float64"),
            Column("currency", "string"),
            Column("paid", "bool"),
            Column("ordered_at", "timestamp"),
        ),
        key=("order_id",),
    ),
)

CUSTOMERS = LandedDataset(
    SHOP,
    DatasetSchema(
        name="customers",
        description="Shop customers exported as CSV (a header row, then one customer per row).",
        columns=(
            Column("customer_id", "int64", nullable=False),
            Column("name", "string"),
            Column("country", "string"),
            Column("signup_date", "date"),
        ),
        key=("customer_id",),
    ),
)

LANDED_DATASETS: tuple[LandedDataset, ...] = (ORDERS, CUSTOMERS)
