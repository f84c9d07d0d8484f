"""Hostile and broken servers against the shared HTTP client, over real loopback HTTP: redirects
are checked hop by hop by the URL policy, a body dropped mid-way is retried, an unparseable
``Retry-After`` backs off, an over-budget one travels with the error to the step retry, and a
trickling body or a slow download ends at its deadline. No error carries a URL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
from requests.adapters import BaseAdapter

from lakehouse_assets.errors import SourceError, step_retry_request
from lakehouse_assets.resources.http_client import HttpClient, RetrySettings, retry_after_seconds
from lakehouse_assets.resources.json_api import JsonArrayClient
from lakehouse_assets.resources.paging import PageNumberPaging, SinglePage
from lakehouse_assets_tests.reliability.fault_server import FaultServer, Reply, fault_server

ROWS = [{"ID": str(i), "post_title": f"Post {i}"} for i in range(40)]
BODY = json.dumps(ROWS).encode()
PAGING = PageNumberPaging(total_pages_header="X-Total-Pages", total_rows_header="X-Total")


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with fault_server() as running:
        yield running


@pytest.fixture
def other() -> Iterator[FaultServer]:
    with fault_server() as running:
        yield running


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Forbidden(BaseAdapter):
    """Mounted for the metadata address: any request reaching it is recorded and refused."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.sent.append(request.url or "")
        raise requests.ConnectionError("the test forbids connecting here")

    def close(self) -> None:
        return None


def client(
    sleeps: Sleeps | None = None, session: requests.Session | None = None, **options: Any
) -> JsonArrayClient:
    options.setdefault("retry", RetrySettings(max_attempts=3, backoff_seconds=0.2))
    return JsonArrayClient(
        session or requests.Session(),
        timeout_seconds=5.0,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **options,
    )


def download(url: str, tmp_path: Path, http: JsonArrayClient, paging: Any = PAGING):
    return http.download("wordpress_api", "posts", url, tmp_path / "out.json", paging=paging)


def assert_no_url(error: BaseException, *servers: FaultServer) -> None:
    text = str(error)
    assert "127.0.0.1" not in text and "169.254" not in text and "http" not in text
    for running in servers:
        assert str(running.port) not in text


# Redirects


def test_a_redirect_to_the_metadata_address_is_refused_before_any_connection(
    server: FaultServer, tmp_path: Path
) -> None:
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    url = server.add("/posts/", Reply(301, b"", {"Location": metadata}))
    session = requests.Session()
    forbidden = Forbidden()
    session.mount("http://169.254.169.254", forbidden)
    with pytest.raises(SourceError) as raised:
        download(url, tmp_path, client(session=session))
    assert str(raised.value) == (
        "wordpress_api/posts: redirect refused on page 1: the target resolves to a link-local,"
        " metadata or reserved address"
    )
    assert raised.value.transient is False
    assert forbidden.sent == []
    assert_no_url(raised.value, server)


def test_a_redirect_to_another_host_is_refused_and_its_rows_never_read(
    server: FaultServer, other: FaultServer, tmp_path: Path
) -> None:
    elsewhere = other.add("/posts/", Reply(200, BODY))
    url = server.add("/posts/", Reply(302, b"", {"Location": elsewhere}))
    with pytest.raises(SourceError) as raised:
        download(url, tmp_path, client())
    assert str(raised.value) == (
        "wordpress_api/posts: redirect refused on page 1: the target is on another host (or"
        " port), which is not in the allow-list"
    )
    assert other.received == []
    assert_no_url(raised.value, server, other)


def test_a_same_host_redirect_is_followed(server: FaultServer, tmp_path: Path) -> None:
    server.add("/posts/", Reply(301, b"", {"Location": "/wp-json/v2/posts/"}))
    server.add("/wp-json/v2/posts/", Reply(200, BODY))
    result = download(f"{server.base_url}/posts/", tmp_path, client())
    assert json.loads(result.path.read_bytes()) == ROWS
    assert server.paths() == ["/posts/", "/wp-json/v2/posts/"]
    assert result.attempts == 1


def test_an_allow_listed_host_may_be_redirected_to_without_the_credentials(
    server: FaultServer, other: FaultServer
) -> None:
    elsewhere = other.add("/posts/", Reply(200, BODY))
    url = server.add("/posts/", Reply(307, b"", {"Location": elsewhere}))
    http = HttpClient(requests.Session(), allowed_hosts=["127.0.0.1"])
    response = http.send(
        "wordpress_api", "posts", "GET", url, headers={"Authorization": "Bearer t0ken"}
    )
    assert response.status_code == 200 and response.content == BODY
    assert server.received[0].headers["authorization"] == "Bearer t0ken"
    assert "authorization" not in other.received[0].headers


def test_a_redirect_loop_stops_after_the_hop_limit(server: FaultServer, tmp_path: Path) -> None:
    url = server.add("/posts/", Reply(302, b"", {"Location": "/posts/"}))
    with pytest.raises(SourceError, match="redirect refused on page 1: more than 3 redirects"):
        download(url, tmp_path, client(max_redirects=3))
    assert len(server.received) == 4


# A body dropped mid-way


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_dropped_mid_way_is_retried_and_the_data_is_whole(
    server: FaultServer, tmp_path: Path, chunked: bool
) -> None:
    url = server.add(
        "/posts/",
        Reply(200, BODY, drop_after=len(BODY) // 2, chunked=chunked),
        Reply(200, BODY, chunked=chunked),
    )
    sleeps = Sleeps()
    result = download(url, tmp_path, client(sleeps))
    assert json.loads(result.path.read_bytes()) == ROWS  # each row once
    assert (result.rows, result.attempts, len(sleeps)) == (40, 2, 1)


def test_a_body_that_keeps_dropping_fails_as_transient(server: FaultServer, tmp_path: Path) -> None:
    url = server.add("/posts/", Reply(200, BODY, drop_after=10))
    with pytest.raises(SourceError) as raised:
        download(url, tmp_path, client())
    assert str(raised.value) == (
        "wordpress_api/posts: connection dropped while reading page 1 after 3 attempts"
    )
    assert raised.value.transient is True


# Retry-After


@pytest.mark.parametrize("value", ["soon", "Mon, 99 Foo 2026 25:61:00 GMT", "-3", "nan"])
def test_an_unparseable_retry_after_backs_off_exponentially(
    server: FaultServer, tmp_path: Path, value: str
) -> None:
    url = server.add("/posts/", Reply(503, b"", {"Retry-After": value}), Reply(200, BODY))
    sleeps = Sleeps()
    assert download(url, tmp_path, client(sleeps)).rows == 40
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.2  # the first backoff, not the header


def test_retry_after_as_an_http_date() -> None:
    response = requests.Response()
    response.headers["Retry-After"] = "Wed, 21 Oct 2026 07:28:00 GMT"
    in_ten = datetime(2026, 10, 21, 7, 28, tzinfo=UTC).timestamp() - 10
    assert retry_after_seconds(response, now=lambda: in_ten) == pytest.approx(10.0)
    response.headers["Retry-After"] = "Wed, 21 Oct 2026 07:28:00 -0000"  # no zone: UTC
    assert retry_after_seconds(response, now=lambda: in_ten) == pytest.approx(10.0)


def test_an_over_budget_retry_after_travels_with_the_error(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/posts/", Reply(429, b"", {"Retry-After": "3600"}))
    sleeps = Sleeps()
    retry = RetrySettings(max_attempts=3, max_total_wait_seconds=60)
    with pytest.raises(SourceError) as raised:
        download(url, tmp_path, client(sleeps, retry=retry))
    error = raised.value
    assert str(error) == (
        "wordpress_api/posts: HTTP 429 on page 1; waiting 3600s more would exceed the 60s"
        " retry budget"
    )
    assert (error.transient, error.retry_after_seconds, sleeps) == (True, 3600.0, [])
    policy = dg.RetryPolicy(max_retries=2, delay=1)
    request = step_retry_request(error, policy, max_wait_seconds=7200)
    assert request is not None
    assert (request.max_retries, request.seconds_to_wait) == (2, 3600.0)
    assert step_retry_request(error, policy, max_wait_seconds=600) is None
    assert step_retry_request(SourceError("s", "d", "HTTP 500"), policy, max_wait_seconds=9) is None


def test_the_step_retry_waits_as_long_as_the_server_asked(server: FaultServer) -> None:
    """How an asset uses it: the op's retry is requested with the server's wait, not the
    policy's one second."""
    url = server.add("/posts/", Reply(429, b"", {"Retry-After": "1"}), Reply(200, BODY))
    policy = dg.RetryPolicy(max_retries=1, delay=0.01)

    @dg.op(retry_policy=policy)
    def fetch() -> int:
        http = HttpClient(requests.Session(), retry=RetrySettings(max_total_wait_seconds=0.5))
        try:
            return len(http.send("wordpress_api", "posts", "GET", url).content)
        except SourceError as error:
            retry = step_retry_request(error, policy, max_wait_seconds=5)
            if retry is None:
                raise
            raise retry from error

    result = dg.GraphDefinition("g", node_defs=[fetch]).to_job().execute_in_process()
    assert result.success and result.output_for_node("fetch") == len(BODY)
    (retried,) = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retried.event_specific_data.seconds_to_wait == 1.0  # type: ignore[union-attr]


# Deadlines


def test_a_trickling_body_ends_at_the_request_deadline(server: FaultServer, tmp_path: Path) -> None:
    # 40 rows a byte every 20 ms: over a minute, though no single read waits even 1 s.
    url = server.add("/posts/", Reply(200, BODY, trickle_seconds=0.02))
    started = time.monotonic()
    with pytest.raises(SourceError) as raised:
        download(url, tmp_path, client(request_deadline_seconds=0.5), paging=SinglePage())
    elapsed = time.monotonic() - started
    assert str(raised.value) == "wordpress_api/posts: exceeded the 0.5s request deadline on page 1"
    assert raised.value.transient is True
    assert elapsed < 3.0
    assert len(server.received) == 1  # a deadline is not retried inside the step


def test_a_slow_paged_download_ends_at_the_download_deadline(
    server: FaultServer, tmp_path: Path
) -> None:
    headers = {"X-Total-Pages": "50"}
    url = server.add("/posts/", Reply(200, json.dumps(ROWS[:1]).encode(), headers, delay=0.2))
    started = time.monotonic()
    http = client(download_deadline_seconds=0.7)
    with pytest.raises(SourceError, match=r"exceeded the 0\.7s download deadline on page \d"):
        download(url, tmp_path, http)
    assert time.monotonic() - started < 3.0
    assert len(server.received) < 6
