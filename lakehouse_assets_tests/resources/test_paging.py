"""Each paginator against a real loopback server, honest and lying: what is requested, what is
kept, and that paging always ends (total-pages headers that overstate, empty last pages, the
WordPress 400 past the end, ``Link`` and cursor loops, next links to other hosts, page limits)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from lakehouse_assets.errors import SourceError
from lakehouse_assets.resources.http_client import HttpClient, RetrySettings
from lakehouse_assets.resources.json_api import JsonArrayClient
from lakehouse_assets.resources.paging import (
    CursorPaging,
    LinkHeaderPaging,
    NextUrlPaging,
    OffsetPaging,
    PageNumberPaging,
    Paginator,
    iter_pages,
)
from lakehouse_assets.sources.wordpress_api.paging import WORDPRESS_PAGING
from lakehouse_assets_tests.reliability.fault_server import (
    FaultServer,
    Received,
    Reply,
    fault_server,
)

ROWS = [{"id": i} for i in range(7)]
PAST_END = Reply(400, b'{"code":"rest_post_invalid_page_number","message":"Invalid page"}')


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with fault_server() as running:
        yield running


def http(**options: Any) -> JsonArrayClient:
    retry = RetrySettings(max_attempts=1)
    return JsonArrayClient(requests.Session(), retry=retry, timeout_seconds=5.0, **options)


def download(url: str, tmp_path: Path, paging: Paginator):
    return http().download("src", "ds", url, tmp_path / "out.json", paging=paging)


def body(rows: list[Any]) -> bytes:
    return json.dumps(rows).encode()


def wp_pages(rows: list[Any], size: int, *, announced_pages: int | None = None) -> list[Reply]:
    pages = [rows[i : i + size] for i in range(0, len(rows), size)]
    headers = {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(announced_pages or len(pages))}
    return [Reply(200, body(p), headers) for p in pages]


def page_params(server: FaultServer, name: str = "page") -> list[str | None]:
    return [r.query.get(name, [None])[0] for r in server.received]


# Page numbers and a total-pages header (WordPress)


def test_pages_follow_the_total_pages_header(server: FaultServer, tmp_path: Path) -> None:
    url = server.add("/posts/", *wp_pages(ROWS, 3))
    result = download(url, tmp_path, WORDPRESS_PAGING)
    assert json.loads(result.path.read_bytes()) == ROWS
    assert (result.rows, result.pages) == (7, 3)
    assert page_params(server) == [None, "2", "3"]


def test_an_overstated_total_pages_ends_at_the_wordpress_400(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/posts/", *wp_pages(ROWS, 4, announced_pages=5), PAST_END)
    result = download(url, tmp_path, WORDPRESS_PAGING)
    assert json.loads(result.path.read_bytes()) == ROWS  # the 400 body is not data
    assert (result.rows, result.pages) == (7, 2)
    assert page_params(server) == [None, "2", "3"]  # no page 4 asked for


def test_an_overstated_total_pages_ends_at_an_empty_page(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/posts/", *wp_pages(ROWS, 4, announced_pages=9), Reply(200, b"[]"))
    result = download(url, tmp_path, WORDPRESS_PAGING)
    assert json.loads(result.path.read_bytes()) == ROWS
    assert page_params(server) == [None, "2", "3"]


def test_the_past_end_answer_to_page_one_is_an_error(server: FaultServer, tmp_path: Path) -> None:
    url = server.add("/posts/", PAST_END)
    with pytest.raises(SourceError, match=r"^src/ds: HTTP 400 on page 1$"):
        download(url, tmp_path, WORDPRESS_PAGING)


def test_another_400_past_page_one_is_still_an_error(server: FaultServer, tmp_path: Path) -> None:
    first, _ = wp_pages(ROWS, 4)
    url = server.add("/posts/", first, Reply(400, b'{"code":"rest_invalid_param"}'))
    with pytest.raises(SourceError, match=r"^src/ds: HTTP 400 on page 2$"):
        download(url, tmp_path, WORDPRESS_PAGING)


def test_without_a_total_pages_header_a_wordpress_endpoint_is_one_page(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/posts/", Reply(200, body(ROWS)))
    assert download(url, tmp_path, WORDPRESS_PAGING).pages == 1
    assert len(server.received) == 1


def test_undeclared_totals_page_until_an_empty_page(server: FaultServer, tmp_path: Path) -> None:
    url = server.add("/x/", Reply(200, body(ROWS[:4])), Reply(200, body(ROWS[4:])), Reply(200))
    result = download(url, tmp_path, PageNumberPaging(page_param="p", first_page=0))
    assert result.rows == 7
    assert page_params(server, "p") == [None, "1", "2"]


def test_a_server_that_never_ends_stops_at_the_page_limit(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/x/", Reply(200, body(ROWS[:1]), {"X-WP-TotalPages": "1000000"}))
    paging = PageNumberPaging(total_pages_header="X-WP-TotalPages", max_pages=5)
    with pytest.raises(SourceError, match=r"more than 5 pages \(the paging limit\)"):
        download(url, tmp_path, paging)
    assert len(server.received) == 5


# RFC 8288 Link


def link(target: str) -> dict[str, str]:
    return {"Link": f'<{target}>; rel="next", </x/?page=1>; rel="first"'}


def test_link_next_is_followed_relative_or_absolute(server: FaultServer, tmp_path: Path) -> None:
    server.add("/x/", Reply(200, body(ROWS[:3]), link("/x/2")))
    server.add("/x/2", Reply(200, body(ROWS[3:6]), link(f"{server.base_url}/x/3")))
    server.add("/x/3", Reply(200, body(ROWS[6:])))
    result = download(f"{server.base_url}/x/", tmp_path, LinkHeaderPaging())
    assert json.loads(result.path.read_bytes()) == ROWS
    assert server.paths() == ["/x/", "/x/2", "/x/3"]


def test_a_link_loop_stops_with_an_error(server: FaultServer, tmp_path: Path) -> None:
    server.add("/x/", Reply(200, body(ROWS[:3]), link("/x/2")))
    server.add("/x/2", Reply(200, body(ROWS[3:]), link("/x/")))
    with pytest.raises(SourceError) as raised:
        download(f"{server.base_url}/x/", tmp_path, LinkHeaderPaging())
    assert str(raised.value) == "src/ds: page 3 would repeat page 1 (a paging loop)"
    assert server.paths() == ["/x/", "/x/2"]


def test_a_link_to_another_host_is_refused(server: FaultServer, tmp_path: Path) -> None:
    with fault_server() as other:
        elsewhere = other.add("/x/2", Reply(200, body(ROWS)))
        url = server.add("/x/", Reply(200, body(ROWS[:1]), link(elsewhere)))
        with pytest.raises(SourceError) as raised:
            download(url, tmp_path, LinkHeaderPaging())
        assert other.received == []
    assert "next link refused after page 1: the target is on another host" in str(raised.value)
    assert "127.0.0.1" not in str(raised.value)


# A next URL in the body, offset/limit, cursor


def test_a_next_url_field_pages_json_object_bodies(server: FaultServer, tmp_path: Path) -> None:
    server.add("/a", Reply(200, json.dumps({"items": ROWS[:4], "next": "/b", "total": 7}).encode()))
    server.add("/b", Reply(200, json.dumps({"items": ROWS[4:], "next": None, "total": 7}).encode()))
    result = download(f"{server.base_url}/a", tmp_path, NextUrlPaging(total_field="total"))
    assert json.loads(result.path.read_bytes()) == ROWS
    assert (result.rows, result.pages) == (7, 2)


def test_a_next_url_repeating_itself_is_a_loop(server: FaultServer) -> None:
    url = server.add("/a", Reply(200, json.dumps({"items": [], "next": "/a"}).encode()))
    client = HttpClient(requests.Session())
    with pytest.raises(SourceError, match="page 2 would repeat page 1"):
        list(iter_pages(client, "src", "ds", url, NextUrlPaging()))


def offset_route(rows: list[Any], *, total: bool) -> Any:
    def answer(request: Received) -> Reply:
        offset = int(request.query["offset"][0])
        limit = int(request.query["limit"][0])
        page: dict[str, Any] = {"items": rows[offset : offset + limit]}
        if total:
            page["total"] = len(rows)
        return Reply(200, json.dumps(page).encode())

    return answer


@pytest.mark.parametrize("total", [True, False], ids=["with-total", "short-last-page"])
def test_offset_paging_advances_by_the_rows_received(
    server: FaultServer, tmp_path: Path, total: bool
) -> None:
    url = server.route("/o", offset_route(ROWS, total=total))
    paging = OffsetPaging(limit=3, total_field="total" if total else None)
    result = download(url, tmp_path, paging)
    assert json.loads(result.path.read_bytes()) == ROWS
    assert page_params(server, "offset") == ["0", "3", "6"]


def test_offset_paging_when_the_total_is_a_multiple_of_the_limit(server: FaultServer) -> None:
    url = server.route("/o", offset_route(ROWS[:6], total=False))
    pages = list(iter_pages(HttpClient(requests.Session()), "s", "d", url, OffsetPaging(limit=3)))
    assert [len(p.items("items")) for p in pages] == [3, 3, 0]


def test_cursor_paging_and_a_cursor_loop(server: FaultServer) -> None:
    def answer(request: Received) -> Reply:
        cursor = request.query.get("cursor", ["start"])[0]
        following = {"start": "c1", "c1": "c2", "c2": None}.get(cursor, "c1")
        return Reply(200, json.dumps({"data": [cursor], "next_cursor": following}).encode())

    url = server.route("/c", answer)
    client = HttpClient(requests.Session())
    pages = list(iter_pages(client, "s", "d", url, CursorPaging()))
    assert [p.items("data") for p in pages] == [["start"], ["c1"], ["c2"]]
    looping = server.route("/loop", lambda r: Reply(200, b'{"data": [1], "next_cursor": "same"}'))
    with pytest.raises(SourceError, match="page 3 would repeat page 2"):
        list(iter_pages(client, "s", "d", looping, CursorPaging()))


def test_an_object_body_without_its_items_array_is_named(
    server: FaultServer, tmp_path: Path
) -> None:
    url = server.add("/a", Reply(200, b'{"data": []}'))
    with pytest.raises(SourceError, match=r"^src/ds: page 1: field 'items' is not a JSON array$"):
        download(url, tmp_path, NextUrlPaging())
