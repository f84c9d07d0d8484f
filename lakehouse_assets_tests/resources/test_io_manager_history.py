"""The IO manager keeps snapshot history as what changed: unchanged days as references, a kept
current table (``CurrentTable``) with its usual metadata, derived history pruned after a
configurable number of days (raw never), and backfills of any day still working — on a local
lake and on S3 (moto over HTTP)."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from lakehouse_assets import settings
from lakehouse_assets.lake.object_store import ObjectStore
from lakehouse_assets.lake.table_files import CurrentTable
from lakehouse_assets.medallion.partitions import SNAPSHOT_METADATA
from lakehouse_assets.resources.catalog import LocalCatalogResource
from lakehouse_assets.resources.io_manager import LakeIOManager
from lakehouse_assets.resources.lake import LakeResource, LocalLakeResource
from lakehouse_assets.resources.parameters import LocalParametersResource
from lakehouse_assets_tests.aws.conftest import CREDENTIALS, moto_endpoint  # noqa: F401

REGION = "us-west-2"
DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
#: What each asset returns for a partition (set by each test).
TABLES: dict[str, Any] = {}


@dg.asset(key=["raw", "demo", "posts"], partitions_def=DAYS, metadata=SNAPSHOT_METADATA)
def raw_posts(context: dg.AssetExecutionContext) -> Any:
    return TABLES[f"raw/{context.partition_key}"]


@dg.asset(key=["silver", "demo", "posts"], partitions_def=DAYS, metadata=SNAPSHOT_METADATA)
def silver_posts(context: dg.AssetExecutionContext) -> Any:
    return TABLES[context.partition_key]


@dg.asset(
    key=["gold", "demo", "posts"],
    partitions_def=DAYS,
    metadata=SNAPSHOT_METADATA,
    ins={"posts": dg.AssetIn(["silver", "demo", "posts"])},
)
def gold_posts(posts: pa.Table) -> pa.Table:
    return posts


@dataclass
class Lake:
    resources: dict[str, Any]
    store: ObjectStore
    buckets: dict[str, str]

    def keys(self, layer: str) -> list[str]:
        return [o.key for o in self.store.list(self.buckets[layer], "demo/posts/")]

    def rows(self, layer: str, key: str) -> list[int]:
        with self.store.local_copy(self.buckets[layer], key) as path:
            return pq.read_table(path).column("n").to_pylist()

    def run(self, day: str, *assets: dg.AssetsDefinition) -> dg.ExecuteInProcessResult:
        chosen = list(assets) or [silver_posts, gold_posts]
        result = dg.materialize(
            [raw_posts, silver_posts, gold_posts],
            selection=chosen,
            resources=self.resources,
            partition_key=day,
        )
        assert result.success
        return result


@pytest.fixture(params=["local", "s3"])
def lake(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Lake]:
    monkeypatch.delenv(settings.DERIVED_HISTORY_DAYS_VAR, raising=False)
    prefix = f"hist-{uuid.uuid4().hex[:10]}"
    buckets = {layer: f"{prefix}-{layer}" for layer in settings.LAYERS}
    parameters_file = tmp_path / "parameters.yaml"
    parameters_file.write_text(
        yaml.safe_dump({settings.PARAMETER_NAMES.bucket(k): v for k, v in buckets.items()})
    )
    parameters = LocalParametersResource(parameters_file=str(parameters_file))
    resource: LakeResource
    if request.param == "local":
        resource = LocalLakeResource(root=str(tmp_path / "lake"), parameters=parameters)
    else:
        request.applymarker(pytest.mark.integration)
        from lakehouse_assets.resources.aws.boto import AwsClientsResource
        from lakehouse_assets.resources.aws.s3_lake import S3LakeResource

        endpoint = request.getfixturevalue("moto_endpoint")
        aws = AwsClientsResource(
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        client = aws.client("s3")
        for bucket in buckets.values():
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        resource = S3LakeResource(parameters=parameters, aws=aws)
    catalog = LocalCatalogResource()
    resources = {"io_manager": LakeIOManager(lake=resource, catalog=catalog)}
    TABLES.clear()
    yield Lake(resources, resource.object_store(), buckets)
    TABLES.clear()


def metadata(result: dg.ExecuteInProcessResult, layer: str) -> dict[str, Any]:
    event = result.asset_materializations_for_node(f"{layer}__demo__posts")[0]
    return {k: getattr(v, "value", v) for k, v in event.metadata.items()}


def test_an_unchanged_day_stores_a_reference_and_loads_as_its_table(lake: Lake) -> None:
    TABLES["2024-01-01"] = pa.table({"n": [1, 2, 3]})
    TABLES["2024-01-02"] = pa.table({"n": [1, 2, 3]})
    lake.run("2024-01-01")
    second = lake.run("2024-01-02")
    history = "demo/posts/_snapshots/"
    for layer in ("silver", "gold"):  # gold loaded silver's 01-02 through the reference
        assert lake.keys(layer) == [
            f"{history}2024-01-01/data.parquet",
            f"{history}2024-01-02/_same_as_2024-01-01.json",
            "demo/posts/data.parquet",
        ]
        meta = metadata(second, layer)
        assert meta["snapshot_same_as"] == "2024-01-01"
        assert meta["is_current_table"] is True
        assert meta["dagster/row_count"] == 3
        assert meta["snapshot_uri"].endswith(f"{history}2024-01-01/data.parquet")
    assert lake.rows("gold", "demo/posts/data.parquet") == [1, 2, 3]
    # A changed day is stored whole and becomes the current table.
    TABLES["2024-01-03"] = pa.table({"n": [1, 2, 3, 4]})
    lake.run("2024-01-03")
    assert lake.keys("gold")[-2:] == [
        f"{history}2024-01-03/data.parquet",
        "demo/posts/data.parquet",
    ]
    assert lake.rows("gold", "demo/posts/data.parquet") == [1, 2, 3, 4]


def test_current_table_keeps_the_table_with_its_metadata_and_no_copy(lake: Lake) -> None:
    TABLES["2024-01-01"] = pa.table({"n": [4, 5], "s": ["a", "b"]})
    lake.run("2024-01-01", silver_posts)
    current = "demo/posts/data.parquet"
    before = lake.store.info(lake.buckets["silver"], current)
    TABLES["2024-01-02"] = CurrentTable()
    kept = lake.run("2024-01-02", silver_posts)
    assert lake.keys("silver") == [
        "demo/posts/_snapshots/2024-01-01/data.parquet",
        "demo/posts/_snapshots/2024-01-02/_same_as_2024-01-01.json",
        current,
    ]
    assert lake.store.info(lake.buckets["silver"], current) == before  # untouched
    meta = metadata(kept, "silver")
    assert meta["reused_current_table"] is True
    assert meta["is_current_table"] is True
    assert meta["dagster/row_count"] == 2
    assert [c.name for c in meta["dagster/column_schema"].columns] == ["n", "s"]
    assert before is not None and meta["size_bytes"] == before.size
    assert meta["dagster/uri"].rstrip("/").endswith("-silver/demo/posts")
    assert "| n | s |" in meta["preview"]
    # Gold of the kept day loads the kept table through the reference.
    lake.run("2024-01-02", gold_posts)
    assert lake.rows("gold", "demo/posts/_snapshots/2024-01-02/data.parquet") == [4, 5]


def test_retention_prunes_derived_history_never_raw_and_backfills_still_rebuild(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.DERIVED_HISTORY_DAYS_VAR, "1")
    days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    for index, day in enumerate(days):
        TABLES[day] = pa.table({"n": [index // 2]})  # two days of one table, two of another
        TABLES[f"raw/{day}"] = pa.table({"n": [index]})
        last = lake.run(day, raw_posts, silver_posts, gold_posts)
    history = "demo/posts/_snapshots/"
    assert metadata(last, "silver")["snapshots_pruned"] == ["2024-01-02"]
    for layer in ("silver", "gold"):
        assert lake.keys(layer) == [
            f"{history}2024-01-03/data.parquet",
            f"{history}2024-01-04/_same_as_2024-01-03.json",
            "demo/posts/data.parquet",
        ]
    assert lake.keys("raw") == [f"{history}{day}/data.parquet" for day in days] + [
        "demo/posts/data.parquet"
    ]
    # A backfill of a pruned day rebuilds and keeps it; the current table stays the newest day's.
    TABLES["2024-01-01"] = pa.table({"n": [0]})
    backfill = lake.run("2024-01-01")
    assert metadata(backfill, "gold")["is_current_table"] is False
    assert f"{history}2024-01-01/data.parquet" in lake.keys("gold")
    assert lake.rows("gold", f"{history}2024-01-01/data.parquet") == [0]
    assert lake.rows("gold", "demo/posts/data.parquet") == [1]
    # The next publish prunes it again (it is more than a day older than the newest), and the
    # bytes 01-03 held move to the newest day referencing them.
    TABLES["2024-01-05"] = pa.table({"n": [1]})
    lake.run("2024-01-05")
    assert lake.keys("gold") == [
        f"{history}2024-01-04/_same_as_2024-01-05.json",
        f"{history}2024-01-05/data.parquet",
        "demo/posts/data.parquet",
    ]


def test_a_pruned_upstream_day_names_itself(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.DERIVED_HISTORY_DAYS_VAR, "0")
    for day in ("2024-01-01", "2024-01-02"):
        TABLES[day] = pa.table({"n": [int(day[-1])]})
        lake.run(day, silver_posts)
    result = dg.materialize(
        [silver_posts, gold_posts],
        resources=lake.resources,
        partition_key="2024-01-01",
        selection=[gold_posts],
        raise_on_error=False,
    )
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "silver demo/posts keeps no version of partition 2024-01-01" in str(
        failure.step_failure_data.error
    )


def test_the_history_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.DERIVED_HISTORY_DAYS_VAR, raising=False)
    assert settings.derived_history_days() is None
    monkeypatch.setenv(settings.DERIVED_HISTORY_DAYS_VAR, " 30 ")
    assert settings.derived_history_days() == 30
    for bad in ("-1", "a week", "1.5"):
        monkeypatch.setenv(settings.DERIVED_HISTORY_DAYS_VAR, bad)
        with pytest.raises(settings.SettingsError, match="LAKEHOUSE_DERIVED_HISTORY_DAYS"):
            settings.derived_history_days()


def test_storage_is_measured_by_layer_and_kind(lake: Lake) -> None:
    from lakehouse_assets.observe.storage import measure_store

    for day, rows in (("2024-01-01", [1]), ("2024-01-02", [1]), ("2024-01-03", [2])):
        TABLES[day] = pa.table({"n": rows})
        TABLES[f"raw/{day}"] = pa.table({"n": rows})
        lake.run(day, raw_posts, silver_posts)
    sizes = {o.key: o.size for o in lake.store.list(lake.buckets["silver"], "demo/posts/")}
    history = "demo/posts/_snapshots/"
    report = measure_store(lake.store, lake.buckets)
    assert report.bytes["silver"] == {
        "current": sizes["demo/posts/data.parquet"],
        "snapshots": sizes[f"{history}2024-01-01/data.parquet"]
        + sizes[f"{history}2024-01-03/data.parquet"],
        "references": sizes[f"{history}2024-01-02/_same_as_2024-01-01.json"],
        "raw": 0,
        "other": 0,
    }
    assert report.objects["silver"] == {
        "current": 1,
        "snapshots": 2,
        "references": 1,
        "raw": 0,
        "other": 0,
    }
    raw_objects = [o.key for o in lake.store.list(lake.buckets["raw"], "")]
    # Raw history is kept in full: the unchanged day is a copy, not a reference.
    assert raw_objects == [
        f"{history}{day}/data.parquet" for day in ("2024-01-01", "2024-01-02", "2024-01-03")
    ] + ["demo/posts/data.parquet"]
    assert report.bytes["raw"]["raw"] == sum(
        o.size for o in lake.store.list(lake.buckets["raw"], "")
    )
    assert report.total(layer="gold") == 0
