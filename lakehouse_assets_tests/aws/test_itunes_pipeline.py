"""The iTunes pipeline on the aws deployment, against moto server over HTTP.

Pins: both packaged exports put into the raw bucket under ``landing/itunes/tracks/`` and a bad
``.txt`` (no ``My Rating`` column) are found by ``landing__itunes__tracks_sensor`` evaluated
against S3 with the aws resources, one run each; the bad file is quarantined under
``quarantine/itunes/tracks/`` with its ``.reason.json`` and alerted on the bronze SNS topic (an SQS
queue subscribed to it receives the alert), its run still succeeding; ``itunes_job`` then writes
silver ``tracks`` (the newest export) and gold ``play_history`` (every export) at their contract
keys and registers both in Glue with the contract's columns; a file landed again with the same
bytes is not requested again by the next tick.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets import settings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.sources.itunes.exports import SAMPLE_DIRECTORY
from lakehouse_assets_tests.aws.conftest import Stack, aws_environment, make_stack, table_keys

pytestmark = pytest.mark.integration

REGION = "ap-northeast-1"
PREFIX = "itunes-lakehouse"
SENSOR = "landing__itunes__tracks_sensor"
LANDING_JOB = "landing__itunes__tracks_job"
REFRESH_JOB = "itunes_job"
LANDING = "landing/itunes/tracks/"
SAMPLES = ("2026-10-01 Library.txt", "2026-11-01 Library.csv")
BAD = "bad/2026-12-01 Library.txt"
#: A UTF-8 export without the required ``My Rating`` column.
BAD_BODY = (
    b"Name\tArtist\tAlbum\tGenre\tTrack Number\tYear\tDate Modified\tDate Added\tPlays\t"
    b"Last Played\nSong\tBand\tRecord\tPop\t1\t2001\t05/04/2021 13:29\t05/04/2021 13:29\t3\t\n"
)
SILVER_COLUMNS = [
    ("name", "string"),
    ("artist", "string"),
    ("album", "string"),
    ("genre", "string"),
    ("tracknumber", "bigint"),
    ("year", "bigint"),
    ("datemodified", "timestamp"),
    ("dateadded", "timestamp"),
    ("plays", "bigint"),
    ("lastplayed", "timestamp"),
    ("myrating", "bigint"),
    ("datemodifieddate", "timestamp"),
    ("dateaddeddate", "timestamp"),
    ("lastplayeddate", "timestamp"),
    ("myratingdigit", "bigint"),
]
GOLD_COLUMNS = [
    ("export_date", "timestamp"),
    ("name", "string"),
    ("artist", "string"),
    ("album", "string"),
    ("tracknumber", "bigint"),
    ("plays", "bigint"),
    ("plays_delta", "bigint"),
]


@dataclass
class Landed:
    stack: Stack
    instance: dg.DagsterInstance
    requests: list[dg.RunRequest]
    landing_runs: list[dg.ExecuteInProcessResult]
    refresh: dg.ExecuteInProcessResult
    cursor: str | None
    alerts: list[dict[str, object]]


def tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None]:
    """One evaluation of the landing sensor against S3; its run requests and new cursor."""
    sensor = defs.resolve_sensor_def(SENSOR)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=dict(defs.resources or {}), sensor_name=SENSOR
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or []), result.cursor


@pytest.fixture(scope="module")
def landed(moto_endpoint: str) -> Iterator[Landed]:
    stack = make_stack(moto_endpoint, REGION, PREFIX, [])
    queue = stack.subscribe_queue("bronze")
    s3 = stack.client("s3")
    for name in SAMPLES:
        body = (SAMPLE_DIRECTORY / name).read_bytes()
        s3.put_object(Bucket=stack.bucket("raw"), Key=f"{LANDING}{name}", Body=body)
        time.sleep(0.01)
    s3.put_object(Bucket=stack.bucket("raw"), Key=f"{LANDING}{BAD}", Body=BAD_BODY)
    instance = dg.DagsterInstance.ephemeral()
    with aws_environment(moto_endpoint, REGION):
        defs = build_definitions(settings.Deployment.AWS)
        requests, cursor = tick(defs, instance, None)
        runs = []
        for request in requests:
            instance.add_dynamic_partitions("landing__itunes__tracks", [request.partition_key])
            tags = {**request.tags, "dagster/sensor_name": SENSOR}
            tags["dagster/run_key"] = request.run_key or ""
            runs.append(
                defs.resolve_job_def(LANDING_JOB).execute_in_process(
                    instance=instance,
                    partition_key=request.partition_key,
                    tags=tags,
                    raise_on_error=False,
                )
            )
        refresh = defs.resolve_job_def(REFRESH_JOB).execute_in_process(
            instance=instance, raise_on_error=False
        )
    yield Landed(stack, instance, requests, runs, refresh, cursor, stack.receive(queue))


def s3_frame(stack: Stack, layer: str, key: str) -> pd.DataFrame:
    body = stack.client("s3").get_object(Bucket=stack.bucket(layer), Key=key)["Body"].read()
    return pd.read_parquet(io.BytesIO(body))


def test_one_run_per_landed_file_and_all_succeed(landed: Landed) -> None:
    assert [r.partition_key for r in landed.requests] == [*SAMPLES, BAD]
    assert [r.success for r in landed.landing_runs] == [True, True, True]
    assert landed.refresh.success
    bronze = landed.stack.keys("bronze")
    assert bronze and all(key.startswith("itunes/tracks/") for key in bronze)


def test_silver_and_gold_at_their_keys_and_in_glue(landed: Landed) -> None:
    stack = landed.stack
    assert stack.keys("silver") == table_keys("tracks", None, source="itunes")
    assert stack.keys("gold") == table_keys("play_history", None, source="itunes")
    silver = s3_frame(stack, "silver", "itunes/tracks/data.parquet")
    assert len(silver) == 19  # the newest export (the csv); the bad file counts for nothing
    assert "Harder, Better, Faster, Stronger" in set(silver["name"])
    gold = s3_frame(stack, "gold", "itunes/play_history/data.parquet")
    assert len(gold) == 19 + 19
    karma = gold[gold["name"] == "Karma Police"].sort_values("export_date")
    assert karma["plays"].tolist() == [27, 27]
    assert karma["plays_delta"].tolist()[1] == 0
    glue = stack.client("glue")
    for database, table, columns in (
        ("lakehouse_silver", "itunes__tracks", SILVER_COLUMNS),
        ("lakehouse_gold", "itunes__play_history", GOLD_COLUMNS),
    ):
        descriptor = glue.get_table(DatabaseName=database, Name=table)["Table"]["StorageDescriptor"]
        found = [(c["Name"], c["Type"]) for c in descriptor["Columns"]]
        assert [c for c in found if not c[0].startswith("_")] == columns
        layer = database.removeprefix("lakehouse_")
        dataset = table.split("__")[1]
        assert descriptor["Location"] == f"s3://{PREFIX}-{layer}/itunes/{dataset}/"
    assert "location" not in {c.lower() for c in silver.columns}


def test_bad_file_is_quarantined_with_its_reason_and_alerted(landed: Landed) -> None:
    stack = landed.stack
    copy = f"quarantine/itunes/tracks/{BAD}"
    quarantined = [k for k in stack.keys("raw") if k.startswith("quarantine/")]
    assert quarantined == [copy, f"{copy}.reason.json"]
    s3 = stack.client("s3")
    assert s3.get_object(Bucket=stack.bucket("raw"), Key=copy)["Body"].read() == BAD_BODY
    reason = json.loads(
        s3.get_object(Bucket=stack.bucket("raw"), Key=f"{copy}.reason.json")["Body"].read()
    )
    assert "My Rating" in reason["reason"]
    assert (reason["source_key"], reason["partition"]) == (f"{LANDING}{BAD}", BAD)
    assert f"{LANDING}{BAD}" in stack.keys("raw")  # the landed file is kept as landed
    (alert,) = landed.alerts
    assert alert["Subject"] == f"[lakehouse] bronze quarantined: itunes/tracks/{BAD}"
    message = json.loads(str(alert["Message"]))
    assert (message["alert"], message["quarantine_key"]) == ("quarantine", copy)


def test_a_file_landed_again_unchanged_is_not_processed_twice(landed: Landed) -> None:
    stack = landed.stack
    name = SAMPLES[0]
    stack.client("s3").put_object(
        Bucket=stack.bucket("raw"),
        Key=f"{LANDING}{name}",
        Body=(SAMPLE_DIRECTORY / name).read_bytes(),
    )
    with aws_environment(stack.endpoint, REGION):
        defs = build_definitions(settings.Deployment.AWS)
        requests, _ = tick(defs, landed.instance, landed.cursor)
    assert requests == []
