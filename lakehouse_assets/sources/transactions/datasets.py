"""What the transactions source declares: its two landed datasets (order JSON, item CSV), the
silver table they feed, and the parameters naming the lookup services."""

from __future__ import annotations

from datetime import timedelta

from lakehouse_assets.medallion.datasets import Column, DatasetSchema
from lakehouse_assets.medallion.landing import LandedDataset
from lakehouse_assets.medallion.source import Source
from lakehouse_assets.sources.transactions.lookups import SAMPLE_DIR

#: Freshness SLA: orders land all day; an hour with no new enriched lines means a stall.
TRANSACTIONS = Source(
    "transactions",
    "Orders (JSON) and their item lines (CSV) landed in S3, enriched from MySQL stores, "
    "DynamoDB customer activity and CloudWatch Logs fraud scores.",
    freshness=timedelta(hours=1),
)

SECRET_ID_PARAMETER = "/transactions/mysql/secret_id"
DEFAULT_SECRET_ID = "lakehouse/transactions-mysql"
CUSTOMER_TABLE_PARAMETER = "/transactions/dynamodb/customer_table"
DEFAULT_CUSTOMER_TABLE = "customer-activity"
FRAUD_GROUP_PARAMETER = "/transactions/logs/fraud_score_group"
DEFAULT_FRAUD_GROUP = "/lab/tx-fraud-score"
PARAMETER_DEFAULTS = {
    SECRET_ID_PARAMETER: DEFAULT_SECRET_ID,
    CUSTOMER_TABLE_PARAMETER: DEFAULT_CUSTOMER_TABLE,
    FRAUD_GROUP_PARAMETER: DEFAULT_FRAUD_GROUP,
}

ORDERS = LandedDataset(
    TRANSACTIONS,
    DatasetSchema(
        name="orders",
        description="Orders as JSON: one transaction per object (an object, an array, or one "
        "object per line), nested objects flattened with '_'.",
        columns=(
            Column("transaction_id", "string", nullable=False),
            Column("timestamp", "timestamp", nullable=False),
        ),
    ),
    sample_directory=SAMPLE_DIR / "landing" / "orders",
)

ITEMS = LandedDataset(
    TRANSACTIONS,
    DatasetSchema(
        name="items",
        description="Item lines as CSV with a header naming at least transaction_id, item_id, "
        "quantity, unit_price.",
        columns=(
            Column("transaction_id", "string", nullable=False),
            Column("item_id", "string", nullable=False),
            Column("quantity", "int64"),
            Column("unit_price", "float64"),
        ),
    ),
    sample_directory=SAMPLE_DIR / "landing" / "items",
)

LANDED_DATASETS = (ORDERS, ITEMS)
ENRICHED = "enriched"
#: Silver ``enriched`` is partitioned Hive-style by this column (the UTC date of ``timestamp``).
PARTITION_COLUMN = "date"
