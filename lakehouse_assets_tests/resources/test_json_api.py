"""The HTTP client against a real loopback server: what counts as success, what is retried,
and that no error ever carries the endpoint URL (it may hold a secret)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lakehouse_assets.errors import SourceError
from lakehouse_assets.resources.json_api import JsonArrayClient, RetrySettings
from lakehouse_assets.sources.wordpress_api.paging import WORDPRESS_PAGING
from lakehouse_assets_tests.http_fixtures import Scripted, ScriptedServer, scripted_server

ROWS = [{"ID": "1", "post_title": "Café"}, {"ID": "2", "post_title": "Tips &amp; Tricks"}]
BODY = json.dumps(ROWS).encode()
SECRET_PATH = "/wp-json/v1/posts_a8f3k/"
SECRET_QUERY = "?api_key=s3cr3t-token"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as running:
        yield running


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(sleeps: Sleeps, attempts: int = 4, timeout: float = 5.0, budget: float = 60.0):
    retry = RetrySettings(max_attempts=attempts, backoff_seconds=0.5, max_total_wait_seconds=budget)
    return JsonArrayClient(requests.Session(), timeout_seconds=timeout, retry=retry, sleep=sleeps)


def download(server: ScriptedServer, tmp_path: Path, sleeps: Sleeps, **kwargs):
    url = f"{server.base_url}{SECRET_PATH}{SECRET_QUERY}"
    return client(sleeps, **kwargs).download(
        "wordpress_api", "posts", url, tmp_path / "out.json", paging=WORDPRESS_PAGING
    )


def assert_no_url(error: SourceError, server: ScriptedServer) -> None:
    text = str(error)
    assert "s3cr3t-token" not in text and server.base_url not in text and "127.0.0.1" not in text
    assert text.startswith("wordpress_api/posts: ")
    assert error.__cause__ is None and error.__suppress_context__ in (True, False)


def test_200_writes_the_body_verbatim(server: ScriptedServer, tmp_path: Path) -> None:
    server.add(SECRET_PATH, Scripted(200, BODY))
    result = download(server, tmp_path, Sleeps())
    assert (result.rows, result.pages, result.attempts) == (2, 1, 1)
    assert result.path.read_bytes() == BODY
    assert server.requests == [SECRET_PATH + SECRET_QUERY]


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_fail_at_once(server: ScriptedServer, tmp_path: Path, status: int) -> None:
    server.add(SECRET_PATH, Scripted(status, b'{"code":"nope"}'))
    sleeps = Sleeps()
    with pytest.raises(SourceError) as raised:
        download(server, tmp_path, sleeps)
    assert str(raised.value) == f"wordpress_api/posts: HTTP {status} on page 1"
    assert_no_url(raised.value, server)
    assert len(server.requests) == 1 and sleeps == []


def test_500_twice_then_200_is_retried_to_success(server: ScriptedServer, tmp_path: Path) -> None:
    server.add(SECRET_PATH, Scripted(500, b"oops"), Scripted(503, b""), Scripted(200, BODY))
    sleeps = Sleeps()
    result = download(server, tmp_path, sleeps)
    assert result.rows == 2 and result.attempts == 3
    assert len(sleeps) == 2 and all(0 <= s <= 1.0 for s in sleeps)


def test_persistent_500_fails_naming_page_status_and_attempts(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.add(SECRET_PATH, Scripted(500, b"down"))
    with pytest.raises(SourceError) as raised:
        download(server, tmp_path, Sleeps(), attempts=3)
    assert str(raised.value) == "wordpress_api/posts: HTTP 500 on page 1 after 3 attempts"
    assert raised.value.transient is True
    assert len(server.requests) == 3
    assert_no_url(raised.value, server)


def test_timeout_fails_naming_the_dataset(server: ScriptedServer, tmp_path: Path) -> None:
    server.add(SECRET_PATH, Scripted(200, BODY, delay=1.0))
    with pytest.raises(SourceError) as raised:
        download(server, tmp_path, Sleeps(), attempts=2, timeout=0.2)
    assert (
        str(raised.value) == "wordpress_api/posts: timed out after 0.2s on page 1 after 2 attempts"
    )
    assert_no_url(raised.value, server)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'[{"ID": "1"}, {"ID": ', "page 1 is not valid JSON at line 1 column 22"),
        (
            b"<!DOCTYPE html><html><body>Maintenance</body></html>",
            "page 1 is not valid JSON at line 1 column 1 (looks like an HTML page)",
        ),
        (b'{"code": "rest_forbidden"}', "page 1 is a JSON dict, not an array"),
        (b'[{"ID": "1"}, "stray"]', "page 1 item 1 is a str, not an object"),
    ],
)
def test_bad_bodies_with_status_200_fail_clearly(
    server: ScriptedServer, tmp_path: Path, body: bytes, problem: str
) -> None:
    server.add(SECRET_PATH, Scripted(200, body))
    with pytest.raises(SourceError) as raised:
        download(server, tmp_path, Sleeps())
    assert str(raised.value) == f"wordpress_api/posts: {problem}"
    assert_no_url(raised.value, server)


def test_empty_array_is_success_with_zero_rows(server: ScriptedServer, tmp_path: Path) -> None:
    server.add(SECRET_PATH, Scripted(200, b"[]"))
    assert download(server, tmp_path, Sleeps()).rows == 0


def paged(rows: list[dict], page_size: int) -> list[Scripted]:
    pages = [rows[i : i + page_size] for i in range(0, len(rows), page_size)]
    headers = {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(len(pages))}
    return [Scripted(200, json.dumps(p).encode(), headers) for p in pages]


def test_paging_follows_total_pages_and_merges_rows(server: ScriptedServer, tmp_path: Path) -> None:
    rows = [{"ID": str(i)} for i in range(7)]
    first, second, third = paged(rows, 3)
    # The server answers by query: page 1 has no ?page, later pages do.
    server.add(SECRET_PATH, first, second, third)
    result = download(server, tmp_path, Sleeps())
    assert (result.rows, result.pages) == (7, 3)
    assert json.loads(result.path.read_bytes()) == rows
    assert [r.split("?")[1] for r in server.requests] == [
        SECRET_QUERY[1:],
        f"{SECRET_QUERY[1:]}&page=2",
        f"{SECRET_QUERY[1:]}&page=3",
    ]


def test_paging_short_of_announced_total_is_an_error(
    server: ScriptedServer, tmp_path: Path
) -> None:
    first, second = paged([{"ID": str(i)} for i in range(4)], 2)
    second.body = b'[{"ID": "2"}]'
    server.add(SECRET_PATH, first, second)
    with pytest.raises(SourceError, match="got 3 rows but the endpoint announced 4"):
        download(server, tmp_path, Sleeps())


def test_429_waits_as_retry_after_asks(server: ScriptedServer, tmp_path: Path) -> None:
    server.add(SECRET_PATH, Scripted(429, b"", {"Retry-After": "7"}), Scripted(200, BODY))
    sleeps = Sleeps()
    assert download(server, tmp_path, sleeps).rows == 2
    assert sleeps == [7.0]


def test_retry_after_beyond_the_budget_fails(server: ScriptedServer, tmp_path: Path) -> None:
    server.add(SECRET_PATH, Scripted(429, b"", {"Retry-After": "600"}))
    sleeps = Sleeps()
    with pytest.raises(SourceError, match="HTTP 429 on page 1; waiting 600s more would exceed"):
        download(server, tmp_path, sleeps, budget=30)
    assert sleeps == []
