"""The table catalog: Glue Data Catalog on AWS; locally, tables are found by walking the lake.

The lake IO manager registers every table it publishes, so SQL tools see the new schema as soon
as the data is there (the Glue crawler's job in the original stack).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import dagster as dg
import pyarrow as pa

from lakehouse_assets.lake.layout import TableAddress


class CatalogResource(dg.ConfigurableResource, ABC):
    """Registers published tables with their schema."""

    @abstractmethod
    def register_table(
        self, address: TableAddress, location: str, schema: pa.Schema, description: str | None
    ) -> None:
        """Create or update the catalog entry of ``address`` (idempotent)."""

    def register_partitions(
        self,
        address: TableAddress,
        location: str,
        schema: pa.Schema,
        partition_values: Sequence[str],
        *,
        partition_column: str = "date",
        description: str | None = None,
    ) -> None:
        """Create or update a table partitioned Hive-style by ``partition_column`` (a string,
        not among ``schema``'s columns) at ``location``, and its partitions
        ``{location}{partition_column}={value}/`` (idempotent), so SQL sees new ones at once."""
        raise NotImplementedError(f"{type(self).__name__} does not register partitions")


class LocalCatalogResource(CatalogResource):
    """Nothing to register locally: ``lakehouse sql`` puts DuckDB views over the lake on demand
    (a Hive-partitioned table reads with ``read_parquet('{prefix}**/*.parquet',
    hive_partitioning=true)``, which finds new partitions by itself)."""

    def register_table(
        self, address: TableAddress, location: str, schema: pa.Schema, description: str | None
    ) -> None:
        return None

    def register_partitions(
        self,
        address: TableAddress,
        location: str,
        schema: pa.Schema,
        partition_values: Sequence[str],
        *,
        partition_column: str = "date",
        description: str | None = None,
    ) -> None:
        return None
