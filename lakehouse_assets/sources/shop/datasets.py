"""Datasets that arrive as files: adding one is a single entry in LANDING_DATASETS.

A file dropped under ``landing/{source}/{dataset}/`` in the raw bucket becomes one partition of
the bronze table ``[bronze, source, dataset]`` (Parquet at ``{source}/{dataset}/{file}/`` in the
bronze bucket), checked against the columns declared here.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse_assets.lake.layout import validate_name

COLUMN_TYPES = ("string", "int64", "float64", "bool", "timestamp", "date")
LANDING_ROOT = "landing"
QUARANTINE_ROOT = "quarantine"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"column {self.name!r}: type {self.type!r} not in {COLUMN_TYPES}")


@dataclass(frozen=True)
class LandingDataset:
    """One kind of landed file: where it lands, its declared columns, its key."""

    source: str
    dataset: str
    description: str
    columns: tuple[Column, ...]
    #: Rows sharing these columns are one record: the last one in the file wins.
    key: tuple[str, ...] = ()
    #: Columns a file has beyond the declared ones are dropped (True) or make it bad (False).
    allow_extra_columns: bool = True
    #: UI group; the source's own group by default, so one group is one pipeline.
    group: str | None = None

    def __post_init__(self) -> None:
        validate_name("source", self.source)
        validate_name("dataset", self.dataset)
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.source}/{self.dataset}: duplicate column names")
        unknown = [k for k in self.key if k not in names]
        if unknown:
            raise ValueError(f"{self.source}/{self.dataset}: key column(s) {unknown} undeclared")

    @property
    def name(self) -> str:
        """Unique name used for the job, sensor and partitions definition."""
        return f"{self.source}__{self.dataset}"

    @property
    def landing_prefix(self) -> str:
        return f"{LANDING_ROOT}/{self.source}/{self.dataset}/"

    @property
    def quarantine_prefix(self) -> str:
        return f"{QUARANTINE_ROOT}/{self.source}/{self.dataset}/"

    @property
    def group_name(self) -> str:
        return self.group or self.source


ORDERS = LandingDataset(
    source="shop",
    dataset="orders",
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
)

CUSTOMERS = LandingDataset(
    source="shop",
    dataset="customers",
    description="Shop customers exported as CSV (a header row, then one customer per row).",
    columns=(
        Column("customer_id", "int64", nullable=False),
        Column("name", "string"),
        Column("country", "string"),
        Column("signup_date", "date"),
    ),
    key=("customer_id",),
)

LANDING_DATASETS: tuple[LandingDataset, ...] = (ORDERS, CUSTOMERS)
