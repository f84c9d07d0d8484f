"""The Spotify pipeline on the aws deployment: moto server over HTTP for S3, SSM, Secrets
Manager, Glue and SNS, the sample Spotify (accounts service + Web API) over real HTTP on loopback.

Pins: bootstrap's Spotify secret and parameters, filled in as an operator would (the sample's
URLs and playlist ids in SSM, its credentials in Secrets Manager), are all a weekly run needs;
``spotify_job`` for the current week writes raw pages, bronze, silver and gold at exactly the
contract keys and registers the silver and gold tables in Glue with their columns; silver equals
what the local deployment builds from the packaged sample; one token request per grant; no client
secret, refresh token or issued access token anywhere (event log, run config, tags, S3 objects,
alerts); a second run of the week replaces its tables (no duplicates); a past week is rebuilt by
``lakehouse backfill`` from its kept raw pages without one HTTP request to Spotify.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from lakehouse_assets import settings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.lake.layout import raw_snapshot_key
from lakehouse_assets.sources.spotify.sample_api import (
    SAMPLE_CLIENT_ID,
    SAMPLE_CLIENT_SECRET,
    SAMPLE_REFRESH_TOKEN,
    SAMPLE_SECRET,
    SampleSpotify,
    sample_api,
    sample_parameters,
    serve,
)
from lakehouse_assets_tests.aws.conftest import Stack, aws_environment, make_stack, table_keys
from lakehouse_assets_tests.http_fixtures import serving

pytestmark = pytest.mark.integration

REGION = "ap-southeast-2"
PREFIX = "spotify-lakehouse"
JOB = "spotify_job"
DATASETS = ("popular_songs", "top_played")
CHART = "weekly_chart"
#: Answer headers the proxy sets itself.
HOP_HEADERS = ("content-length", "transfer-encoding", "connection", "server", "date")
SILVER_COLUMNS = {
    "popular_songs": [
        ("artist", "string"),
        ("track", "string"),
        ("track_pop", "bigint"),
        ("duration_ms", "bigint"),
        ("album_nm", "string"),
        ("album_dt", "string"),
        ("album_dt_precision", "string"),
        ("track_id", "string"),
        ("artists", "string"),
        ("position", "bigint"),
        ("playlist_id", "string"),
    ],
    "top_played": [
        ("artist", "string"),
        ("track", "string"),
        ("track_pop", "bigint"),
        ("duration_ms", "bigint"),
        ("album_nm", "string"),
        ("album_dt", "string"),
        ("album_dt_precision", "string"),
        ("track_id", "string"),
        ("artists", "string"),
        ("position", "bigint"),
    ],
}


class RecordingSpotify(SampleSpotify):
    """The sample Spotify, also noting each token grant asked for and each token it issued."""

    def __init__(self, base: SampleSpotify):
        super().__init__(base.playlists, base.top_tracks)
        self.grants: list[str] = []
        self.issued: list[str] = []

    def handle(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        status, answer_headers, content = super().handle(method, url, headers, body)
        if urlsplit(url).path == "/api/token":
            self.grants.append(dict(parse_qsl(body.decode())).get("grant_type", ""))
            if status == 200:
                self.issued.append(json.loads(content)["access_token"])
        return status, answer_headers, content


@dataclass
class AwsCalls:
    """A loopback endpoint forwarding every AWS call to moto, counting them by service and
    operation (S3 by method and whether an object or a bucket was addressed)."""

    upstream: str
    url: str = ""
    calls: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def aws_calls(moto_endpoint: str) -> Iterator[AwsCalls]:
    state = AwsCalls(moto_endpoint)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            body = self._body()
            state.calls[self._operation(body)] += 1
            dropped = ("host", "transfer-encoding", "content-length", "expect")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
            # (urllib would otherwise send a form type, and moto would parse the body as a form.)
            headers.setdefault("Content-Type", "binary/octet-stream")
            request = urllib.request.Request(
                state.upstream + self.path, data=body, headers=headers, method=self.command
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    status, answer, content = response.status, response.headers, response.read()
            except urllib.error.HTTPError as exc:
                status, answer, content = exc.code, exc.headers, exc.read()
            self.send_response(status)
            for name, value in answer.items():
                if name.lower() not in (
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "server",
                    "date",
                ):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        def _body(self) -> bytes | None:
            """The body as sent; a chunked one (botocore's aws-chunked uploads) kept framed,
            trailing checksum included, for moto to decode as S3 would."""
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None
            framed = b""
            while True:
                line = self.rfile.readline()
                framed += line
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while (trailer := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                        framed += trailer
                    return framed + b"\r\n"
                framed += self.rfile.read(size + 2)

        def _operation(self, body: bytes | None) -> str:
            scope = re.search(
                r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", self.headers["Authorization"]
            )
            service = scope.group(1) if scope else "?"
            target = self.headers.get("X-Amz-Target")
            if target:
                return f"{service} {target.rsplit('.', 1)[-1]}"
            if service == "s3":
                path, _, query = self.path.partition("?")
                what = "object" if path.strip("/").count("/") else "bucket"
                return f"s3 {self.command} {what}" + (" ?list" if "list-type" in query else "")
            action = dict(parse_qsl((body or b"").decode())).get("Action", self.command)
            return f"{service} {action}"

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    with serving(Handler) as origin:
        state.url = origin
        yield state


@dataclass
class Runs:
    stack: Stack
    api: RecordingSpotify
    origin: str
    week: str
    instance: dg.DagsterInstance
    first: dg.ExecuteInProcessResult
    first_requests: list[str]
    first_calls: Counter[str]
    queues: dict[str, str]
    local_silver: dict[str, pd.DataFrame]


def run_week(week: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    defs = build_definitions(settings.Deployment.AWS)
    return defs.resolve_job_def(JOB).execute_in_process(
        instance=instance, partition_key=week, raise_on_error=False
    )


def local_silver(root: Path) -> dict[str, pd.DataFrame]:
    """Silver as the local deployment builds it from the packaged sample (in-process)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(settings.DEPLOYMENT_VAR, "local")
        patch.setenv(settings.ROOT_VAR, str(root))
        patch.delenv(settings.PARAMETERS_FILE_VAR, raising=False)
        defs = build_definitions(settings.Deployment.LOCAL)
        job = defs.resolve_job_def(JOB)
        assert job.partitions_def is not None
        result = job.execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            partition_key=job.partitions_def.get_last_partition_key(),
        )
        assert result.success
    return {
        d: pd.read_parquet(root / "data-lakehouse-silver" / "spotify" / d / "data.parquet")
        for d in DATASETS
    }


@pytest.fixture(scope="module")
def runs(
    moto_endpoint: str, aws_calls: AwsCalls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runs]:
    stack = make_stack(moto_endpoint, REGION, PREFIX, [])
    assert {"secret lakehouse/spotify", "parameter /spotify/secret_id"} <= set(stack.report.created)
    api = RecordingSpotify(sample_api())
    with serve(api) as origin:
        # The operator's part: the credentials, the playlists, and (here) the URLs.
        stack.client("secretsmanager").put_secret_value(
            SecretId="lakehouse/spotify", SecretString=SAMPLE_SECRET
        )
        ssm = stack.client("ssm")
        for name, value in sample_parameters(origin=origin).items():
            kind = "StringList" if isinstance(value, list) else "String"
            text = ",".join(value) if isinstance(value, list) else value
            ssm.put_parameter(Name=name, Value=text, Type=kind, Overwrite=True)
        queues = {layer: stack.subscribe_queue(layer) for layer in stack.report.topic_arns}
        instance = dg.DagsterInstance.ephemeral()
        with aws_environment(aws_calls.url, REGION):
            defs = build_definitions(settings.Deployment.AWS)
            job = defs.resolve_job_def(JOB)
            assert job.partitions_def is not None
            week = job.partitions_def.get_last_partition_key()
            assert week is not None
            first = run_week(week, instance)
        first_calls = Counter(aws_calls.calls)
        yield Runs(
            stack,
            api,
            origin,
            week,
            instance,
            first,
            list(api.requests_seen),
            first_calls,
            queues,
            local_silver(tmp_path_factory.mktemp("local") / "lake"),
        )


def s3_frame(stack: Stack, layer: str, key: str) -> pd.DataFrame:
    body = stack.client("s3").get_object(Bucket=stack.bucket(layer), Key=key)["Body"].read()
    return pd.read_parquet(io.BytesIO(body))


def contract(frame: pd.DataFrame) -> pd.DataFrame:
    """The contract's columns (ingestion metadata starts with ``_``)."""
    return frame[[c for c in frame.columns if not c.startswith("_")]]


def test_weekly_run_writes_every_layer_at_the_contract_keys(runs: Runs) -> None:
    assert runs.first.success
    materialized = {
        e.asset_key.to_user_string()
        for e in runs.first.all_events
        if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION and e.asset_key
    }
    assert materialized == {
        f"{layer}/spotify/{d}" for layer in ("raw", "bronze", "silver") for d in DATASETS
    } | {f"gold/spotify/{CHART}"}
    stack, week = runs.stack, runs.week
    run_prefix = runs.first.run_id.replace("-", "")[:8]
    raw_keys = stack.keys("raw")
    assert len(raw_keys) == 2
    for dataset, key in zip(DATASETS, raw_keys, strict=True):
        assert re.fullmatch(
            rf"spotify/{dataset}/ingest_date={week}/{dataset}_\d{{8}}T\d{{12}}Z_{run_prefix}\.json",
            key,
        ), key
    pages = json.loads(
        stack.client("s3").get_object(Bucket=stack.bucket("raw"), Key=raw_keys[0])["Body"].read()
    )
    playlists = sample_parameters()["/spotify/api/playlists"]
    assert [(p["playlist_id"], p["page"]) for p in pages] == [
        (playlists[0], 1),
        (playlists[1], 1),
        (playlists[1], 2),
        (playlists[2], 1),
        (playlists[2], 2),
    ]
    for layer in ("bronze", "silver"):
        assert stack.keys(layer) == sorted(
            k for d in DATASETS for k in table_keys(d, week, source="spotify")
        )
    assert stack.keys("gold") == table_keys(CHART, week, source="spotify")


def test_requests_to_spotify_one_token_per_grant(runs: Runs) -> None:
    assert sorted(runs.api.grants[:2]) == ["client_credentials", "refresh_token"]
    playlists = sample_parameters()["/spotify/api/playlists"]
    by_endpoint = Counter(
        re.sub(r"/playlists/[^/]+/", "/playlists/{id}/", r.split("?")[0])
        for r in runs.first_requests
    )
    assert by_endpoint == {
        "POST /api/token": 2,
        "GET /v1/playlists/{id}/items": 5,  # 23, 57 and 80 entries at 50 a page
        "GET /v1/me/top/tracks": 1,
    }
    assert f"GET /v1/playlists/{playlists[2]}/items?limit=50" in runs.first_requests
    for dataset in DATASETS:
        (raw,) = runs.first.asset_materializations_for_node(f"raw__spotify__{dataset}")
        assert raw.metadata["token_requests"].value == 1


def test_glue_has_the_silver_and_gold_tables(runs: Runs) -> None:
    glue = runs.stack.client("glue")
    names = {
        db: sorted(t["Name"] for t in glue.get_tables(DatabaseName=db)["TableList"])
        for db in ("lakehouse_silver", "lakehouse_gold")
    }
    assert names == {
        "lakehouse_silver": ["spotify__popular_songs", "spotify__top_played"],
        "lakehouse_gold": [f"spotify__{CHART}"],
    }
    for dataset, columns in SILVER_COLUMNS.items():
        table = glue.get_table(DatabaseName="lakehouse_silver", Name=f"spotify__{dataset}")
        descriptor = table["Table"]["StorageDescriptor"]
        found = [(c["Name"], c["Type"]) for c in descriptor["Columns"]]
        assert [c for c in found if not c[0].startswith("_")] == columns
        assert descriptor["Location"] == f"s3://{PREFIX}-silver/spotify/{dataset}/"
    gold = glue.get_table(DatabaseName="lakehouse_gold", Name=f"spotify__{CHART}")["Table"]
    chart = s3_frame(runs.stack, "gold", f"spotify/{CHART}/data.parquet")
    assert [c["Name"] for c in gold["StorageDescriptor"]["Columns"]] == list(chart.columns)
    assert gold["StorageDescriptor"]["Location"] == f"s3://{PREFIX}-gold/spotify/{CHART}/"


def test_silver_equals_the_local_deployments(runs: Runs) -> None:
    for dataset in DATASETS:
        aws = s3_frame(runs.stack, "silver", f"spotify/{dataset}/data.parquet")
        assert len(aws) > 20
        pd.testing.assert_frame_equal(contract(aws), contract(runs.local_silver[dataset]))


def _everything_recorded(instance: dg.DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    records = instance.get_records_for_run(run_id, limit=100_000).records
    assert len(records) > 20
    return "\n".join(
        [
            dg.serialize_value(run),
            json.dumps(run.run_config, default=str),
            json.dumps(dict(run.tags)),
            *(dg.serialize_value(record.event_log_entry) for record in records),
        ]
    )


def _objects_as_text(stack: Stack) -> list[str]:
    """Every object of every layer, Parquet decoded (its pages are compressed)."""
    s3 = stack.client("s3")
    texts = []
    for layer in settings.LAYERS:
        for key in stack.keys(layer):
            body = s3.get_object(Bucket=stack.bucket(layer), Key=key)["Body"].read()
            if key.endswith(".parquet"):
                table = pq.read_table(io.BytesIO(body))
                texts.append(f"{table.schema.metadata}\n{table.to_pylist()}")
            else:
                texts.append(body.decode("utf-8"))
    return texts


def test_no_secret_or_token_anywhere(runs: Runs) -> None:
    alerts = {layer: runs.stack.receive(url) for layer, url in runs.queues.items()}
    assert alerts == {layer: [] for layer in runs.queues}  # a good run alerts no one
    objects = _objects_as_text(runs.stack)
    recorded = "\n".join(
        [_everything_recorded(runs.instance, runs.first.run_id), json.dumps(alerts), *objects]
    )
    assert len(objects) == 2 + 2 * 2 + 2 * 2 + 2
    assert "spotify/popular_songs" in recorded and "token_requests" in recorded
    assert len(runs.api.issued) >= 2
    basic = base64.b64encode(f"{SAMPLE_CLIENT_ID}:{SAMPLE_CLIENT_SECRET}".encode()).decode()
    secrets = [SAMPLE_CLIENT_SECRET, SAMPLE_REFRESH_TOKEN, basic, *runs.api.issued]
    assert [s for s in secrets if s in recorded] == []


def test_second_run_of_the_week_replaces_its_tables(runs: Runs, aws_calls: AwsCalls) -> None:
    stack = runs.stack
    before = {d: s3_frame(stack, "silver", f"spotify/{d}/data.parquet") for d in DATASETS}
    gold_before = s3_frame(stack, "gold", f"spotify/{CHART}/data.parquet")
    with aws_environment(aws_calls.url, REGION):
        second = run_week(runs.week, runs.instance)
    assert second.success
    assert len(stack.keys("raw")) == 4  # raw is history: both runs' pages kept
    for layer in ("bronze", "silver"):
        assert stack.keys(layer) == sorted(
            k for d in DATASETS for k in table_keys(d, runs.week, source="spotify")
        )
    assert stack.keys("gold") == table_keys(CHART, runs.week, source="spotify")
    for dataset in DATASETS:
        for key in (
            f"spotify/{dataset}/data.parquet",
            f"spotify/{dataset}/_snapshots/{runs.week}/data.parquet",
        ):
            after = s3_frame(stack, "silver", key)
            pd.testing.assert_frame_equal(contract(after), contract(before[dataset]))
    gold = s3_frame(stack, "gold", f"spotify/{CHART}/data.parquet")
    assert len(gold) == len(gold_before)
    assert not contract(gold).duplicated().any()


def test_backfill_of_a_past_week_reads_kept_raw_and_makes_no_request(
    runs: Runs, tmp_path: Path
) -> None:
    """The pages one weekly run kept, as the run of the previous week left them: ``lakehouse
    backfill`` of that week rebuilds the same silver and never calls Spotify."""
    stack, s3 = runs.stack, runs.stack.client("s3")
    past = (datetime.fromisoformat(runs.week) - timedelta(days=7)).date().isoformat()
    moment = datetime.fromisoformat(f"{past}T07:00:05+00:00")
    for dataset in DATASETS:
        kept = next(k for k in stack.keys("raw") if k.startswith(f"spotify/{dataset}/"))
        s3.copy_object(
            Bucket=stack.bucket("raw"),
            Key=raw_snapshot_key("spotify", dataset, past, moment, "orig0001"),
            CopySource={"Bucket": stack.bucket("raw"), "Key": kept},
        )
    current = {d: s3_frame(stack, "silver", f"spotify/{d}/data.parquet") for d in DATASETS}
    seen = len(runs.api.requests_seen)
    with aws_environment(stack.endpoint, REGION):
        environment = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
        command = [sys.executable, "-m", "lakehouse_assets.cli", "backfill", "--job", JOB]
        done = subprocess.run(
            [*command, "--start", past, "--end", past],
            env=environment,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(runs.api.requests_seen) == seen  # not one request to Spotify
    for dataset in DATASETS:
        rebuilt = s3_frame(stack, "silver", f"spotify/{dataset}/_snapshots/{past}/data.parquet")
        pd.testing.assert_frame_equal(contract(rebuilt), contract(current[dataset]))
        # The current table stays the current week's.
        pd.testing.assert_frame_equal(
            s3_frame(stack, "silver", f"spotify/{dataset}/data.parquet"), current[dataset]
        )
    assert f"spotify/{CHART}/_snapshots/{past}/data.parquet" in stack.keys("gold")


def test_aws_calls_of_a_weekly_run(runs: Runs) -> None:
    """What one weekly run asks of AWS, by service and operation (printed for the record)."""
    calls = runs.first_calls
    print("\nAWS calls of one weekly run:", json.dumps(dict(sorted(calls.items())), indent=1))
    assert calls["secretsmanager GetSecretValue"] == 1  # the credentials, read once per run
    assert calls["glue CreateTable"] == 2 + 2 + 1  # bronze, silver, gold tables
    assert calls["ssm GetParameters"] >= 1
    # Only what the code location's policy allows on S3 (HEAD is GetObject's permission).
    assert {op for op in calls if op.startswith("s3 ")} <= {
        "s3 GET bucket ?list",
        "s3 GET object",
        "s3 HEAD object",
        "s3 PUT object",
    }
