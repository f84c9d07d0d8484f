"""The Glue Data Catalog: one database per layer, one table per asset (the crawler's old job).

The lake IO manager registers each table right after publishing it, so Athena sees the new schema
with the data. Raw holds JSON snapshots and is not registered. A table is named
``{source}__{dataset}`` in the layer's database (``lakehouse_silver.wordpress_api__posts``),
located at the dataset's prefix ``s3://{bucket}/{source}/{dataset}/`` (Athena reads every Parquet
object under it: there is exactly one), with Parquet serde and column types mapped from Arrow.
Column names are lower-cased, as the Hive metastore stores them; Athena matches Parquet columns
case-insensitively, so ``post_ID`` in the file is ``post_id`` in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from pydantic import Field

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.catalog import CatalogResource

CATALOGUED_LAYERS = ("bronze", "silver", "gold")
#: ``BatchCreatePartition`` / ``BatchUpdatePartition`` take at most this many entries.
PARTITIONS_PER_CALL = 100
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def glue_type(arrow_type: pa.DataType) -> str:
    """The Hive/Athena type of an Arrow type (unknown types raise rather than guess)."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return glue_type(t.value_type)
    simple = {
        pa.bool_(): "boolean",
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.uint8(): "smallint",
        pa.uint16(): "int",
        pa.uint32(): "bigint",
        pa.uint64(): "decimal(20,0)",
        pa.float16(): "float",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.date32(): "date",
        pa.date64(): "date",
        pa.null(): "string",
    }
    if t in simple:
        return simple[t]
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{glue_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{glue_type(t.key_type)},{glue_type(t.item_type)}>"
    if pa.types.is_struct(t):
        fields = ",".join(f"{f.name.lower()}:{glue_type(f.type)}" for f in t)
        return f"struct<{fields}>"
    raise ValueError(f"no Glue type for Arrow type {t}")


def glue_columns(schema: pa.Schema) -> list[dict[str, str]]:
    columns: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    for field in schema:
        name = field.name.lower()
        if name in seen:
            raise ConfigurationError(
                f"columns {seen[name]!r} and {field.name!r} collide in the catalog (names are "
                "case-insensitive there)"
            )
        seen[name] = field.name
        columns.append({"Name": name, "Type": glue_type(field.type)})
    return columns


def table_name(address: TableAddress) -> str:
    return f"{address.source}__{address.dataset}"


class GlueCatalogResource(CatalogResource):
    """Creates or updates ``{database_prefix}{layer}.{source}__{dataset}`` for each table."""

    aws: AwsClientsResource
    database_prefix: str = Field(
        default="lakehouse_", description="Glue database of a layer: prefix + layer name."
    )

    def database(self, layer: str) -> str:
        return f"{self.database_prefix}{layer}"

    def table_input(
        self, address: TableAddress, location: str, schema: pa.Schema, description: str | None
    ) -> dict[str, Any]:
        return {
            "Name": table_name(address),
            "Description": (description or address.label)[:2048],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "classification": "parquet",
                "EXTERNAL": "TRUE",
                "lakehouse_asset_key": "/".join(address.asset_key.path),
            },
            "StorageDescriptor": {
                "Columns": glue_columns(schema),
                "Location": location if location.endswith("/") else location + "/",
                "InputFormat": PARQUET_INPUT,
                "OutputFormat": PARQUET_OUTPUT,
                "Compressed": True,
                "SerdeInfo": {
                    "SerializationLibrary": PARQUET_SERDE,
                    "Parameters": {"serialization.format": "1"},
                },
            },
        }

    def register_table(
        self, address: TableAddress, location: str, schema: pa.Schema, description: str | None
    ) -> None:
        if address.layer not in CATALOGUED_LAYERS:
            return
        glue = self.aws.client("glue")
        database = self.database(address.layer)
        table = self.table_input(address, location, schema, description)
        try:
            glue.create_table(DatabaseName=database, TableInput=table)
        except glue.exceptions.AlreadyExistsException:
            glue.update_table(DatabaseName=database, TableInput=table)

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
        """The table (partitioned by ``partition_column``, a string) created or updated, then
        its partitions: ``batch_create_partition``, and ``batch_update_partition`` for those
        that exist already (their columns follow the table's). Athena sees a new day without
        a crawler or ``MSCK REPAIR``."""
        if address.layer not in CATALOGUED_LAYERS:
            return
        glue = self.aws.client("glue")
        database = self.database(address.layer)
        table = self.table_input(address, location, schema, description)
        table["PartitionKeys"] = [{"Name": partition_column, "Type": "string"}]
        try:
            glue.create_table(DatabaseName=database, TableInput=table)
        except glue.exceptions.AlreadyExistsException:
            glue.update_table(DatabaseName=database, TableInput=table)
        base = table["StorageDescriptor"]["Location"]
        values = sorted(set(partition_values))
        for start in range(0, len(values), PARTITIONS_PER_CALL):
            chunk = values[start : start + PARTITIONS_PER_CALL]
            inputs = {
                value: {
                    "Values": [value],
                    "StorageDescriptor": {
                        **table["StorageDescriptor"],
                        "Location": f"{base}{partition_column}={value}/",
                    },
                    "Parameters": {"classification": "parquet"},
                }
                for value in chunk
            }
            response = glue.batch_create_partition(
                DatabaseName=database,
                TableName=table["Name"],
                PartitionInputList=list(inputs.values()),
            )
            existing: list[tuple[str, str]] = []
            failed: list[tuple[str, str]] = []
            for error in response.get("Errors", []):
                value = error["PartitionValues"][0]
                code = error.get("ErrorDetail", {}).get("ErrorCode", "")
                (existing if code == "AlreadyExistsException" else failed).append((value, code))
            if failed:
                raise ConfigurationError(
                    f"Glue refused partitions of {database}.{table['Name']}: "
                    + ", ".join(f"{partition_column}={v} ({c})" for v, c in failed)
                )
            if existing:
                response = glue.batch_update_partition(
                    DatabaseName=database,
                    TableName=table["Name"],
                    Entries=[
                        {"PartitionValueList": [v], "PartitionInput": inputs[v]}
                        for v, _ in existing
                    ],
                )
                if response.get("Errors"):
                    refused = [e["PartitionValueList"][0] for e in response["Errors"]]
                    raise ConfigurationError(
                        f"Glue did not update partitions of {database}.{table['Name']}: "
                        + ", ".join(f"{partition_column}={v}" for v in refused)
                    )
