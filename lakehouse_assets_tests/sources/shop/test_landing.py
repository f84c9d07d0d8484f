"""File landing end to end: a file dropped in the raw bucket becomes exactly one bronze partition.

Why: landed files come from people and other systems. A good JSON or CSV file must arrive in
bronze with exactly its rows (typed, deduplicated, ``processed_at`` added); a bad one (broken
JSON, a missing column, a wrong type) must never reach bronze, must be kept in quarantine with
its reason, must alert the bronze topic, and must leave the data already there readable. The
tests run the real sensor on a real instance and execute each run it requests, on the local lake.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from lakehouse_assets import settings
from lakehouse_assets.automation.landing_sensor import TAG_ETAG, TAG_KEY
from lakehouse_assets.deployments import local_resources
from lakehouse_assets.errors import BadFileError
from lakehouse_assets.lake.object_store import LocalObjectStore
from lakehouse_assets.lake.s3_object_store import S3ObjectStore
from lakehouse_assets.medallion.landed_files import parse_landed_file
from lakehouse_assets.medallion.landing import LandedDataset as LandingDataset
from lakehouse_assets.resources.catalog import LocalCatalogResource
from lakehouse_assets.resources.io_manager import LakeIOManager
from lakehouse_assets.resources.notifications import LocalNotificationsResource
from lakehouse_assets.sources.shop.datasets import CUSTOMERS, ORDERS
from lakehouse_assets.sources.shop.definitions import build_definitions as shop_definitions
from lakehouse_assets_tests.automation.stores import STORES, StoreLake, moto_s3, parameters

ORDERS_FIELDS = ["order_id", "customer_id", "amount", "currency", "paid", "ordered_at"]


@dataclass
class Lake:
    root: Path
    instance: dg.DagsterInstance
    defs: dg.Definitions
    cursors: dict[str, str | None] = field(default_factory=dict)

    @property
    def store(self) -> LocalObjectStore:
        return LocalObjectStore(self.root)

    def land(self, dataset: LandingDataset, name: str, body: bytes) -> str:
        """Publish a file in the landing prefix (atomically, as the lake's writers do)."""
        source = self.root / "incoming"
        source.write_bytes(body)
        key = f"{dataset.landing_prefix}{name}"
        self.store.put_file("test-raw", key, source)
        return key

    def process(self, dataset: LandingDataset) -> list[dg.ExecuteInProcessResult]:
        """One sensor tick, then every run it requested, as the daemon and run launcher would."""
        sensor = self.defs.resolve_sensor_def(f"landing__{dataset.name}_sensor")
        resources = self.defs.resources or {}
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(dataset.name),
            resources={"lake": resources["lake"]},
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        for request in result.dynamic_partitions_requests or []:
            assert isinstance(request, dg.AddDynamicPartitionsRequest)
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        self.cursors[dataset.name] = result.cursor
        job = self.defs.resolve_job_def(f"landing__{dataset.name}_job")
        runs = []
        for run in result.run_requests or []:
            assert run.run_key == f"{run.tags[TAG_KEY]}@{run.tags[TAG_ETAG]}"
            runs.append(
                job.execute_in_process(
                    instance=self.instance, partition_key=run.partition_key, tags=run.tags
                )
            )
        return runs

    def bronze(self, dataset: LandingDataset, partition: str) -> Path:
        return (
            self.root
            / "test-bronze"
            / dataset.source.name
            / dataset.schema.name
            / partition
            / ("data.parquet")
        )

    def rows(self, dataset: LandingDataset, partition: str) -> list[dict[str, Any]]:
        return pq.read_table(self.bronze(dataset, partition)).to_pylist()

    def alerts(self) -> list[dict[str, Any]]:
        outbox = self.root / "_alerts" / "outbox.jsonl"
        if not outbox.exists():
            return []
        return [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]

    def quarantined(self, dataset: LandingDataset, name: str) -> tuple[bytes, dict[str, Any]]:
        base = (
            self.root / "test-raw" / "quarantine" / dataset.source.name / dataset.schema.name / name
        )
        reason = json.loads(base.with_name(base.name + ".reason.json").read_text("utf-8"))
        return base.read_bytes(), reason


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    root = tmp_path / "lake"
    root.mkdir()
    parameters = tmp_path / "parameters.yaml"
    buckets = {settings.PARAMETER_NAMES.bucket(layer): f"test-{layer}" for layer in settings.LAYERS}
    parameters.write_text(yaml.safe_dump(buckets), encoding="utf-8")
    monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
    monkeypatch.setenv(settings.ROOT_VAR, str(root))
    monkeypatch.setenv(settings.PARAMETERS_FILE_VAR, str(parameters))
    defs = dg.Definitions.merge(shop_definitions(), dg.Definitions(resources=local_resources()))
    with dg.instance_for_test() as instance:
        yield Lake(root, instance, defs)


def without_processed_at(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "processed_at"} for row in rows]


def assert_processed_between(rows: list[dict[str, Any]], start: datetime, end: datetime) -> None:
    stamps = {row["processed_at"] for row in rows}
    assert len(stamps) == 1
    (stamp,) = stamps
    assert start <= stamp <= end


GOOD_ORDERS = [
    {"order_id": 1, "customer_id": 10, "amount": 12.5, "currency": "EUR", "paid": True,
     "ordered_at": "2026-11-01T09:30:00Z", "note": "extra fields are dropped"},
    {"order_id": 2, "customer_id": 11, "amount": 3, "currency": "GBP", "paid": False,
     "ordered_at": "2026-11-01T10:00:00+01:00"},
    {"order_id": 1, "customer_id": 10, "amount": 12.5, "currency": "EUR", "paid": True,
     "ordered_at": "2026-11-01T09:30:00Z", "note": "exact duplicate of the first row"},
    {"order_id": 3, "customer_id": 12, "amount": None, "currency": None, "paid": None,
     "ordered_at": None},
    {"order_id": 2, "customer_id": 11, "amount": 4.0, "currency": "GBP", "paid": True,
     "ordered_at": "2026-11-01T10:05:00+01:00"},
]  # fmt: skip


def test_good_json_and_csv_files_become_exact_bronze_partitions(lake: Lake) -> None:
    orders_key = lake.land(ORDERS, "2026/11/orders-001.json", json.dumps(GOOD_ORDERS).encode())
    ndjson = "\n".join(
        json.dumps({**row, "order_id": 100 + i}) for i, row in enumerate(GOOD_ORDERS[:2])
    )
    lake.land(ORDERS, "orders-002.jsonl", (ndjson + "\n").encode())
    csv_text = (
        "customer_id,name,country,signup_date\n"
        "10,Ada Lovelace,GB,2026-01-31\n"
        '11,"Grace, Hopper",US,\n'
        "10,Ada Lovelace,GB,2026-01-31\n"
        "12,,,2026-02-01\n"
    )
    lake.land(CUSTOMERS, "customers.csv", csv_text.encode())

    start = datetime.now(UTC)
    runs = lake.process(ORDERS) + lake.process(CUSTOMERS)
    end = datetime.now(UTC)
    assert [r.success for r in runs] == [True, True, True]

    orders = lake.rows(ORDERS, "2026/11/orders-001.json")
    assert_processed_between(orders, start, end)
    assert without_processed_at(orders) == [
        {"order_id": 1, "customer_id": 10, "amount": 12.5, "currency": "EUR", "paid": True,
         "ordered_at": datetime(2026, 11, 1, 9, 30, tzinfo=UTC), "source_file": orders_key},
        {"order_id": 3, "customer_id": 12, "amount": None, "currency": None, "paid": None,
         "ordered_at": None, "source_file": orders_key},
        {"order_id": 2, "customer_id": 11, "amount": 4.0, "currency": "GBP", "paid": True,
         "ordered_at": datetime(2026, 11, 1, 9, 5, tzinfo=UTC), "source_file": orders_key},
    ]  # fmt: skip
    assert [r["order_id"] for r in lake.rows(ORDERS, "orders-002.jsonl")] == [100, 101]
    customers = lake.rows(CUSTOMERS, "customers.csv")
    assert_processed_between(customers, start, end)
    assert without_processed_at(customers) == [
        {"customer_id": 10, "name": "Ada Lovelace", "country": "GB",
         "signup_date": date(2026, 1, 31), "source_file": "landing/shop/customers/customers.csv"},
        {"customer_id": 11, "name": "Grace, Hopper", "country": "US", "signup_date": None,
         "source_file": "landing/shop/customers/customers.csv"},
        {"customer_id": 12, "name": None, "country": None, "signup_date": date(2026, 2, 1),
         "source_file": "landing/shop/customers/customers.csv"},
    ]  # fmt: skip
    schema = pq.read_schema(lake.bronze(ORDERS, "orders-002.jsonl"))
    assert [(f.name, str(f.type)) for f in schema] == [
        ("order_id", "int64"),
        ("customer_id", "int64"),
        ("amount", "double"),
        ("currency", "string"),
        ("paid", "bool"),
        ("ordered_at", "timestamp[us, tz=UTC]"),
        ("processed_at", "timestamp[us, tz=UTC]"),
        ("source_file", "string"),
    ]
    materialization = runs[0].asset_materializations_for_node("bronze__shop__orders")[0]
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["dagster/row_count"] == 3
    assert (metadata["rows_in"], metadata["duplicate_rows_removed"]) == (5, 1)
    assert (metadata["superseded_rows_removed"], metadata["ignored_columns"]) == (1, ["note"])
    assert lake.alerts() == []
    assert lake.process(ORDERS) == []  # nothing runs twice
    assert sorted(lake.instance.get_dynamic_partitions("landing__shop__orders")) == [
        "2026/11/orders-001.json",
        "orders-002.jsonl",
    ]


def test_bad_files_are_quarantined_with_their_reason_and_alerted(lake: Lake) -> None:
    lake.land(ORDERS, "orders-001.json", json.dumps(GOOD_ORDERS).encode())
    assert [r.success for r in lake.process(ORDERS)] == [True]
    good_before = lake.bronze(ORDERS, "orders-001.json").read_bytes()

    broken = b'[{"order_id": 7, "customer_id": 1'
    wrong_type = json.dumps(
        [{**GOOD_ORDERS[1], "order_id": 8}, {**GOOD_ORDERS[1], "amount": "abc"}]
    )
    missing = b"customer_id,name,signup_date\n1,Ann,2026-01-01\n"
    lake.land(ORDERS, "broken.json", broken)
    lake.land(ORDERS, "wrong-type.json", wrong_type.encode())
    lake.land(CUSTOMERS, "missing-column.csv", missing)
    # A good file re-uploaded with bad content: its partition keeps the good data.
    reupload = json.dumps([{**GOOD_ORDERS[1], "order_id": "one"}]).encode()
    lake.land(ORDERS, "orders-001.json", reupload)

    runs = lake.process(ORDERS) + lake.process(CUSTOMERS)
    assert [r.success for r in runs] == [True, True, True, True]
    for run in runs:  # a quarantined file materializes nothing
        assert run.asset_materializations_for_node("bronze__shop__orders") == []
        assert run.asset_materializations_for_node("bronze__shop__customers") == []

    expected = {
        (ORDERS, "broken.json", broken): "not valid JSON (Expecting ',' delimiter at line 1 "
        "column 34)",
        (ORDERS, "wrong-type.json", wrong_type.encode()): "row 2: column 'amount': expected "
        'float64, found "abc"',
        (CUSTOMERS, "missing-column.csv", missing): "missing column(s): country",
        (ORDERS, "orders-001.json", reupload): "row 1: column 'order_id': expected int64, "
        'found "one"',
    }
    for (dataset, name, body), reason in expected.items():
        copy, recorded = lake.quarantined(dataset, name)
        assert copy == body
        key = f"{dataset.landing_prefix}{name}"
        assert recorded["reason"] == reason
        assert (recorded["source_key"], recorded["partition"]) == (key, name)
        assert recorded["asset"] == f"bronze/shop/{dataset.schema.name}"
        assert not lake.bronze(dataset, name).exists() or name == "orders-001.json"

    alerts = lake.alerts()
    assert sorted(
        (a["topic"], a["message"]["source_key"], a["message"]["reason"]) for a in alerts
    ) == sorted(
        ("bronze", f"{dataset.landing_prefix}{name}", reason)
        for (dataset, name, _), reason in expected.items()
    )
    assert alerts[0]["subject"] == "[lakehouse] bronze quarantined: shop/orders/broken.json"
    assert {a["message"]["alert"] for a in alerts} == {"quarantine"}
    assert all(a["message"]["quarantine_key"].startswith("quarantine/shop/") for a in alerts)

    # The previous good data stays, unchanged and readable as one table.
    assert lake.bronze(ORDERS, "orders-001.json").read_bytes() == good_before
    table = pd.read_parquet(lake.root / "test-bronze" / "shop" / "orders")
    assert sorted(table["order_id"].tolist()) == [1, 2, 3]
    assert lake.process(ORDERS) == [] and lake.process(CUSTOMERS) == []


def order(**changes: Any) -> bytes:
    """One complete order, with ``changes``, as a JSON array."""
    row = {"order_id": 1, "customer_id": 1, "amount": 1.0, "currency": "EUR", "paid": True}
    return json.dumps([{**row, "ordered_at": None, **changes}]).encode()


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("a.xml", b"<a/>", "unsupported file type '.xml': expected one of .json, .jsonl, "
         ".ndjson, .csv"),
        ("a.json", b"  \n", "the file is empty"),
        ("a.json", b'{"order_id": 1}\n{"order_id": 2', "line 2 is not valid JSON (Expecting ',' "
         "delimiter at column 15)"),
        ("a.json", b'[1, 2]', "element 1 is a JSON int, not an object"),
        ("a.json", order(order_id=None), "row 1: column 'order_id' is null"),
        ("a.json", order(order_id=True), "row 1: column 'order_id': expected int64, found true"),
        ("a.json", order(customer_id=2**63), "row 1: column 'customer_id': out of the int64 "
         "range, found 9223372036854775808"),
        ("a.json", order(amount="1.5"), "row 1: column 'amount': expected float64, found "
         '"1.5"'),
        ("a.json", order(ordered_at="2026-02-30T00:00"), "row 1: column 'ordered_at': day is "
         'out of range for month, found "2026-02-30T00:00"'),
        ("a.json", order(ordered_at="yesterday"), "row 1: column 'ordered_at': expected "
         'timestamp, found "yesterday"'),
        ("a.csv", b"order_id,customer_id\n1,2,3\n", "line 2 has 3 fields, the header has 2"),
    ],
)  # fmt: skip
def test_parse_rejects_with_a_precise_reason(name: str, body: bytes, reason: str) -> None:
    with pytest.raises(BadFileError) as caught:
        parse_landed_file(body, name, ORDERS.schema, datetime.now(UTC))
    assert caught.value.reason == reason


def test_parse_accepts_empty_arrays_csv_text_values_and_offsets() -> None:
    moment = datetime(2026, 11, 21, tzinfo=UTC)
    empty = parse_landed_file(b"[]", "x.json", ORDERS.schema, moment)
    assert (empty.table.num_rows, empty.table.schema.names[-2:]) == (
        0,
        ["processed_at", "source_file"],
    )
    csv_body = (
        b"order_id,customer_id,amount,currency,paid,ordered_at\n"
        b"5,6,7,EUR,TRUE,2026-11-01 12:00:00-02:00\n"
        b"9,6,,,0,\n"
    )
    parsed = parse_landed_file(csv_body, "x.csv", ORDERS.schema, moment)
    assert parsed.table.select(ORDERS_FIELDS).to_pylist() == [
        {"order_id": 5, "customer_id": 6, "amount": 7.0, "currency": "EUR", "paid": True,
         "ordered_at": datetime(2026, 11, 1, 14, tzinfo=UTC)},
        {"order_id": 9, "customer_id": 6, "amount": None, "currency": None, "paid": False,
         "ordered_at": None},
    ]  # fmt: skip


def test_a_run_for_a_superseded_version_writes_nothing(lake: Lake) -> None:
    lake.land(ORDERS, "o.json", order(order_id=1))
    (first,) = lake.process(ORDERS)
    stale_tags = dict(first.dagster_run.tags)
    lake.land(ORDERS, "o.json", order(order_id=2))
    job = lake.defs.resolve_job_def("landing__shop__orders_job")
    stale = job.execute_in_process(instance=lake.instance, partition_key="o.json", tags=stale_tags)
    assert stale.success
    assert stale.asset_materializations_for_node("bronze__shop__orders") == []
    assert [r["order_id"] for r in lake.rows(ORDERS, "o.json")] == [1]
    (newer,) = lake.process(ORDERS)  # the new version's own run
    assert newer.dagster_run.tags[TAG_ETAG] != stale_tags[TAG_ETAG]
    assert [r["order_id"] for r in lake.rows(ORDERS, "o.json")] == [2]


@pytest.mark.integration
def test_landing_on_s3_through_a_moto_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same flow on the S3 store: bronze object, quarantine pair and alert, over HTTP."""
    outbox = tmp_path / "outbox.jsonl"
    with moto_s3(monkeypatch) as s3, dg.instance_for_test() as instance:
        client, raw, bronze_bucket = s3.client, s3.buckets["raw"], s3.buckets["bronze"]
        STORES["landing-s3"] = S3ObjectStore(client)
        lake_resource = StoreLake(
            parameters=parameters(tmp_path, s3.buckets), store_id="landing-s3"
        )
        defs = dg.Definitions.merge(
            shop_definitions(),
            dg.Definitions(
                resources={
                    "lake": lake_resource,
                    "io_manager": LakeIOManager(lake=lake_resource, catalog=LocalCatalogResource()),
                    "notifications": LocalNotificationsResource(outbox_path=str(outbox)),
                }
            ),
        )
        good = json.dumps(GOOD_ORDERS[:2]).encode()
        client.put_object(Bucket=raw, Key="landing/shop/orders/good.json", Body=good)
        client.put_object(Bucket=raw, Key="landing/shop/orders/bad.json", Body=b"[{")
        sensor = defs.resolve_sensor_def("landing__shop__orders_sensor")
        with dg.build_sensor_context(instance=instance, resources={"lake": lake_resource}) as ctx:
            result = sensor(ctx)
        assert isinstance(result, dg.SensorResult)
        (added,) = result.dynamic_partitions_requests or []
        assert isinstance(added, dg.AddDynamicPartitionsRequest)
        assert sorted(added.partition_keys) == ["bad.json", "good.json"]
        instance.add_dynamic_partitions(added.partitions_def_name, list(added.partition_keys))
        job = defs.resolve_job_def("landing__shop__orders_job")
        for request in result.run_requests or []:
            run = job.execute_in_process(
                instance=instance, partition_key=request.partition_key, tags=request.tags
            )
            assert run.success

        bronze = client.get_object(Bucket=bronze_bucket, Key="shop/orders/good.json/data.parquet")
        rows = pq.read_table(io.BytesIO(bronze["Body"].read())).to_pylist()
        assert [(r["order_id"], r["amount"], r["source_file"]) for r in rows] == [
            (1, 12.5, "landing/shop/orders/good.json"),
            (2, 3.0, "landing/shop/orders/good.json"),
        ]
        listed = client.list_objects_v2(Bucket=raw, Prefix="quarantine/")["Contents"]
        assert [o["Key"] for o in listed] == [
            "quarantine/shop/orders/bad.json",
            "quarantine/shop/orders/bad.json.reason.json",
        ]
        reason = client.get_object(Bucket=raw, Key=listed[1]["Key"])["Body"].read()
        assert json.loads(reason)["reason"] == (
            "not valid JSON (Expecting property name enclosed in double quotes at line 1 column 3)"
        )
        (alert,) = [json.loads(line) for line in outbox.read_text("utf-8").splitlines()]
        assert (alert["topic"], alert["message"]["source_key"]) == (
            "bronze",
            "landing/shop/orders/bad.json",
        )
        bronze_keys = client.list_objects_v2(Bucket=bronze_bucket)["Contents"]
        assert [o["Key"] for o in bronze_keys] == ["shop/orders/good.json/data.parquet"]
