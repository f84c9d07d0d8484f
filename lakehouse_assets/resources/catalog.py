"""The table catalog: Glue Data Catalog on AWS; locally, tables are found by walking the lake.

The lake IO manager registers every table it publishes, so SQL tools see the new schema as soon
as the data is there (the Glue crawler's job in the original stack).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

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


class LocalCatalogResource(CatalogResource):
    """Nothing to register locally: ``lakehouse sql`` puts DuckDB views over the lake on demand."""

    def register_table(
        self, address: TableAddress, location: str, schema: pa.Schema, description: str | None
    ) -> None:
        return None
