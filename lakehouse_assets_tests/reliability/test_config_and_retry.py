"""Configuration mistakes stop `lakehouse run` before any I/O, and a step retry waits as long as
the server asked (within a bound).

Pinned down, as a user sees it: ``LAKEHOUSE_ENV=bogus``, ``--partition garbage``, an unsafe or
(on aws) missing bucket parameter each give one ``lakehouse: …`` line on stderr (no traceback)
and a non-zero exit, with the lake tree untouched and no request at the fixture server. In the
raw asset itself, a bad bucket name fails the step before its first request; a ``Retry-After``
the client's budget cannot honour becomes a step retry waiting that long, or, beyond the bound,
a failed step saying so (no hour-long sleep). Downloads have a total deadline by default.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets import settings
from lakehouse_assets.automation.jobs import MAX_RUNTIME_SECONDS
from lakehouse_assets.medallion.raw import STEP_RETRY_MAX_WAIT_SECONDS
from lakehouse_assets.resources.http_api import HttpApiResource
from lakehouse_assets.resources.lake import LocalLakeResource, bucket_name_problem
from lakehouse_assets.resources.parameters import LocalParametersResource
from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource
from lakehouse_assets_tests.aws.conftest import aws_environment, make_stack
from lakehouse_assets_tests.conftest import run_wordpress_job, step_errors
from lakehouse_assets_tests.reliability.fault_server import FaultServer, Reply, fault_server
from lakehouse_assets_tests.reliability.harness import (
    Lakehouse,
    WordPressSite,
    parameters,
    tree,
    wordpress_site,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RUN = ("run", "--source", "wordpress_api")
RAW_BUCKET = settings.PARAMETER_NAMES.bucket("raw")
SILVER_BUCKET = settings.PARAMETER_NAMES.bucket("silver")
BUCKET_RULE = (
    "must be 3-63 characters of lowercase letters, digits, dots and hyphens, beginning and "
    "ending with a letter or digit"
)


@pytest.fixture
def site() -> Iterator[WordPressSite]:
    with fault_server() as server, wordpress_site(server) as served:
        yield served


def assert_refused(lake: Lakehouse, site: WordPressSite, line: str, *args: str, **env: str) -> None:
    before = tree(lake.root)
    done = lake.run(*args, **env)
    assert done.returncode != 0, done.explain()
    assert done.stderr.splitlines() == [line], done.explain()
    assert "Traceback" not in done.stdout + done.stderr
    assert tree(lake.root) == before == {}
    assert site.server.received == []


# The command line


def test_an_unknown_deployment_is_one_line(site: WordPressSite, tmp_path: Path) -> None:
    lake = Lakehouse.create(tmp_path, parameters(site.urls()))
    line = "lakehouse: LAKEHOUSE_ENV='bogus' is not one of: local, aws"
    assert_refused(lake, site, line, *RUN, LAKEHOUSE_ENV="bogus")


def test_a_garbage_partition_is_one_line(site: WordPressSite, tmp_path: Path) -> None:
    lake = Lakehouse.create(tmp_path, parameters(site.urls()))
    done_line = "lakehouse: wordpress_api: partition 'garbage' is not one of this job's partitions"
    before = tree(lake.root)
    done = lake.run(*RUN, "--partition", "garbage")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(done_line), line
    assert tree(lake.root) == before and site.server.received == []


@pytest.mark.parametrize("name", ["../../../tmp/x", "Data-Lakehouse-Silver"])
def test_an_unsafe_bucket_name_is_one_line_before_any_io(
    site: WordPressSite, tmp_path: Path, name: str
) -> None:
    lake = Lakehouse.create(tmp_path / "work", parameters(site.urls(), **{SILVER_BUCKET: name}))
    line = (
        f"lakehouse: parameter {SILVER_BUCKET}: bucket name {name!r} is not a valid S3 bucket "
        f"name ({BUCKET_RULE})"
    )
    assert_refused(lake, site, line, *RUN)
    assert not (lake.root / name).resolve().exists()  # where a path-like name would lead


def test_a_missing_bucket_parameter_on_aws_is_one_line_naming_it(
    moto_endpoint: str, site: WordPressSite, tmp_path: Path
) -> None:
    region = "ap-south-1"
    stack = make_stack(moto_endpoint, region, "reliability-config", site.urls())
    stack.client("ssm").delete_parameter(Name=settings.PARAMETER_NAMES.bucket("gold"))
    lake = Lakehouse.create(tmp_path, {})
    with aws_environment(moto_endpoint, region):
        import os

        aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        lake.env_overrides.update({**aws, settings.DEPLOYMENT_VAR: "aws"})
    before = {layer: stack.keys(layer) for layer in settings.LAYERS}
    line = (
        "lakehouse: bucket parameter(s) missing from SSM Parameter Store: "
        f"{settings.PARAMETER_NAMES.bucket('gold')}"
    )
    assert_refused(lake, site, line, *RUN)
    assert {layer: stack.keys(layer) for layer in settings.LAYERS} == before


# The lake resource and the raw asset


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("data-lakehouse-raw", None),
        ("a.b-c.d", None),
        ("..", BUCKET_RULE),
        ("a..b", "must not contain two adjacent dots"),
        ("ab", BUCKET_RULE),
        ("x" * 64, BUCKET_RULE),
        ("Upper", BUCKET_RULE),
        ("under_score", BUCKET_RULE),
        ("-leading", BUCKET_RULE),
        ("192.168.5.4", "must not be formatted as an IP address"),
        ("xn--bucket", "uses a prefix or suffix S3 reserves"),
        ("bucket-s3alias", "uses a prefix or suffix S3 reserves"),
    ],
)
def test_bucket_names_follow_the_s3_rules(name: str, problem: str | None) -> None:
    assert bucket_name_problem(name) == problem


def test_locally_a_missing_bucket_parameter_keeps_its_default(tmp_path: Path) -> None:
    path = tmp_path / "parameters.yaml"
    path.write_text(f"{RAW_BUCKET}: my-raw\n", encoding="utf-8")
    lake = LocalLakeResource(parameters=LocalParametersResource(parameters_file=str(path)))
    assert [lake.bucket(x) for x in settings.LAYERS] == [
        "my-raw",
        "data-lakehouse-bronze",
        "data-lakehouse-silver",
        "data-lakehouse-gold",
    ]


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    with fault_server() as server:
        monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
        monkeypatch.setenv(settings.ROOT_VAR, str(tmp_path / "lake"))
        monkeypatch.setenv(settings.STEP_RETRY_DELAY_VAR, "0.01")
        yield server


def use_parameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: dict[str, object]):
    import yaml

    path = tmp_path / "parameters.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    monkeypatch.setenv(settings.PARAMETERS_FILE_VAR, str(path))


RAW_POSTS = [dg.AssetKey(["raw", "wordpress_api", "posts"])]


def test_the_raw_asset_checks_bucket_names_before_its_first_request(
    local: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with wordpress_site(local) as site:
        use_parameters(tmp_path, monkeypatch, parameters(site.urls(), **{RAW_BUCKET: "a..b"}))
        result = run_wordpress_job(asset_selection=RAW_POSTS)
    assert step_errors(result) == {
        "raw__wordpress_api__posts": "ConfigurationError: parameter /s3/lakehouse/name/raw: "
        "bucket name 'a..b' is not a valid S3 bucket name (must not contain two adjacent dots)"
    }
    assert local.received == [] and not (tmp_path / "lake").exists()


def test_an_hour_long_retry_after_fails_the_step_at_once_saying_so(
    local: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = local.add("/posts_a8f3k/", Reply(429, b"", {"Retry-After": "3600"}))
    use_parameters(tmp_path, monkeypatch, parameters([url]))
    started = time.monotonic()
    result = run_wordpress_job(
        asset_selection=RAW_POSTS,
        wordpress_api=WordPressApiResource(max_retry_wait_seconds=1.0),
    )
    assert time.monotonic() - started < 30
    assert step_errors(result) == {
        "raw__wordpress_api__posts": "SourceError: wordpress_api/posts: HTTP 429 on page 1; "
        "waiting 3600s more would exceed the 1s retry budget; the server asks to wait 3600s, "
        "longer than the 900s a step retry may wait: not retried"
    }
    assert len(local.received) == 1  # neither the client nor the step asked again
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_a_step_retry_waits_the_servers_retry_after(
    local: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = b'[{"ID": "1", "post_title": "t", "post_type": "post"}]'
    url = local.add("/posts_a8f3k/", Reply(429, b"", {"Retry-After": "2"}), Reply(200, rows))
    use_parameters(tmp_path, monkeypatch, parameters([url]))
    result = run_wordpress_job(
        asset_selection=RAW_POSTS,
        wordpress_api=WordPressApiResource(max_retry_wait_seconds=0.5),
    )
    assert result.success, step_errors(result)
    (retried,) = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retried.event_specific_data.seconds_to_wait == 2.0  # type: ignore[union-attr]
    assert len(local.received) == 2
    assert STEP_RETRY_MAX_WAIT_SECONDS * 2 <= MAX_RUNTIME_SECONDS


def test_downloads_have_a_total_deadline_within_the_runs_max_runtime() -> None:
    deadline = HttpApiResource().download_deadline_seconds
    assert deadline is not None
    assert HttpApiResource().request_deadline_seconds < deadline < MAX_RUNTIME_SECONDS
