"""The Glue catalog: Arrow types mapped to Hive types, and tables created then updated in place.

A table's schema may change between runs (a new endpoint field reaches bronze); the catalog entry
must follow it without a crawler, and raw (JSON history) is never registered.
"""

from __future__ import annotations

import boto3
import pyarrow as pa
import pytest

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.aws.glue import GlueCatalogResource, glue_columns, glue_type
from lakehouse_assets_tests.aws.conftest import CREDENTIALS

REGION = "ca-central-1"


@pytest.mark.parametrize(
    ("arrow", "hive"),
    [
        (pa.int64(), "bigint"),
        (pa.int32(), "int"),
        (pa.int16(), "smallint"),
        (pa.int8(), "tinyint"),
        (pa.float64(), "double"),
        (pa.float32(), "float"),
        (pa.bool_(), "boolean"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.binary(), "binary"),
        (pa.date32(), "date"),
        (pa.timestamp("us"), "timestamp"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.decimal128(12, 2), "decimal(12,2)"),
        (pa.list_(pa.int64()), "array<bigint>"),
        (pa.struct([("A", pa.string()), ("b", pa.int32())]), "struct<a:string,b:int>"),
        (pa.map_(pa.string(), pa.float64()), "map<string,double>"),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
    ],
)
def test_arrow_types_map_to_hive_types(arrow: pa.DataType, hive: str) -> None:
    assert glue_type(arrow) == hive


def test_column_names_that_collide_case_insensitively_are_refused() -> None:
    assert glue_columns(pa.schema([("post_ID", pa.int64())])) == [
        {"Name": "post_id", "Type": "bigint"}
    ]
    with pytest.raises(ConfigurationError, match="'ID' and 'id' collide"):
        glue_columns(pa.schema([("ID", pa.int64()), ("id", pa.int64())]))


@pytest.mark.integration
def test_register_creates_then_updates_and_skips_raw(moto_endpoint: str) -> None:
    aws = AwsClientsResource(
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    glue = boto3.client(
        "glue",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    for layer in ("bronze", "raw"):
        glue.create_database(DatabaseInput={"Name": f"cat_{layer}"})
    catalog = GlueCatalogResource(aws=aws, database_prefix="cat_")
    address = TableAddress("bronze", "wordpress_api", "terms")
    location = "s3://b/wordpress_api/terms/"
    catalog.register_table(address, location, pa.schema([("term_id", pa.string())]), "Terms.")
    catalog.register_table(
        address, location, pa.schema([("term_id", pa.string()), ("extra", pa.string())]), None
    )
    table = glue.get_table(DatabaseName="cat_bronze", Name="wordpress_api__terms")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["term_id", "extra"]
    assert table["StorageDescriptor"]["Location"] == location
    assert table["Parameters"]["lakehouse_asset_key"] == "bronze/wordpress_api/terms"
    raw = TableAddress("raw", "wordpress_api", "terms")
    catalog.register_table(
        raw, "s3://r/wordpress_api/terms/", pa.schema([("x", pa.string())]), None
    )
    assert glue.get_tables(DatabaseName="cat_raw")["TableList"] == []
