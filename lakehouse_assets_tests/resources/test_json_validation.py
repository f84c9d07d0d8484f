"""The download's one-pass validation (DuckDB) accepts exactly what ``json`` accepts, and when a
page is bad the error still names the dataset, the page and the problem, as ``json`` words it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from lakehouse_assets.errors import SourceError
from lakehouse_assets.resources.json_api import JsonArrayClient, RetrySettings, count_json_objects
from lakehouse_assets.sources.wordpress_api.paging import WORDPRESS_PAGING
from lakehouse_assets_tests.http_fixtures import Scripted, ScriptedServer, scripted_server

PATH = "/wp-json/v1/statistics_pages_q7x2d/"
PAGE_1 = [{"page_id": "1", "uri": "/"}, {"page_id": "2", "uri": "/café/"}]
PAGE_3 = [{"page_id": "4", "uri": "/x/"}]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as running:
        yield running


@pytest.fixture(autouse=True, params=["one-group", "group-per-page"])
def validation_groups(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages are validated in groups on a worker thread: as one group, and one per page."""
    if request.param == "group-per-page":
        monkeypatch.setattr("lakehouse_assets.resources.json_api.VALIDATION_GROUP_BYTES", 1)


def pages(server: ScriptedServer, *bodies: bytes, total: int) -> None:
    headers = {"X-WP-TotalPages": str(len(bodies)), "X-WP-Total": str(total)}
    server.add(PATH, *(Scripted(200, body, headers) for body in bodies))


#: Empty pages are kept going past here, so an empty page between full ones is exercised.
PAGING = replace(WORDPRESS_PAGING, stop_at_empty_page=False)


def download(server: ScriptedServer, tmp_path: Path):
    client = JsonArrayClient(requests.Session(), retry=RetrySettings(max_attempts=1))
    return client.download(
        "wordpress_api", "statistics_pages", server.base_url + PATH, tmp_path / "o", paging=PAGING
    )


def test_pages_are_joined_counted_and_hashed_as_one_array(
    server: ScriptedServer, tmp_path: Path
) -> None:
    pages(
        server,
        json.dumps(PAGE_1, ensure_ascii=False).encode(),
        b" [ ] ",
        json.dumps(PAGE_3).encode(),
        total=3,
    )
    result = download(server, tmp_path)
    body = result.path.read_bytes()
    assert json.loads(body) == PAGE_1 + PAGE_3
    assert (result.rows, result.pages, result.size_bytes) == (3, 3, len(body))
    assert result.sha256 == hashlib.sha256(body).hexdigest()
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # the groups' files are gone


@pytest.mark.parametrize(
    ("bad_page", "problem"),
    [
        (b'[{"page_id": "3", "uri": tru}]', "page 2 is not valid JSON at line 1 column 26"),
        (b'[{"page_id": "3"}, 7]', "page 2 item 1 is a int, not an object"),
        (b"<html><body>Error establishing a database connection</body></html>", "page 2 "),
        (b'{"code": "rest_error"}', "page 2 is a JSON dict, not an array"),
    ],
)
def test_a_bad_page_is_named_with_the_problem(
    server: ScriptedServer, tmp_path: Path, bad_page: bytes, problem: str
) -> None:
    pages(server, json.dumps(PAGE_1).encode(), bad_page, json.dumps(PAGE_3).encode(), total=4)
    with pytest.raises(SourceError) as raised:
        download(server, tmp_path)
    assert str(raised.value).startswith("wordpress_api/statistics_pages: ")
    assert problem in str(raised.value)
    if bad_page.startswith(b"<"):
        assert "looks like an HTML page" in str(raised.value)
    assert not list(tmp_path.glob("validate-*"))


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        (b'[{"a": "1"}, {"b": null}]', 2),
        (b"[]", 0),
        (b'[{"a": 1}, 2]', None),
        (b'{"a": 1}', None),
        (b'[{"a": "1"},]', None),
        (b'[{"a": "1"}] trailing', None),
        (b'[{"a": "caf\xe9"}]', None),  # not UTF-8
    ],
)
def test_the_fast_count_says_all_good_only_for_arrays_of_objects(
    tmp_path: Path, body: bytes, rows: int | None
) -> None:
    path = tmp_path / "ingest_date=2026-10-31" / "snapshot.json"  # a Hive-looking directory
    path.parent.mkdir()
    path.write_bytes(body)
    assert count_json_objects(path) == rows
