"""Every paginator and every kind of credentials a REST source can declare, through the
component against a real loopback API: all rows arrive once, a lying total-pages header or an
empty last page ends paging without losing or inventing rows, a ``Link`` loop fails bounded,
credentials reach the API (and a wrong one fails the run naming the dataset), child endpoints
are asked once per parent."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_assets_tests.components.declared import (
    BASE_URL_PARAMETER,
    ApiServer,
    api_server,
    declaration,
    failures,
    load,
    records,
    run_job,
    table,
    use_local_lake,
    write_defs,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PAGE_NUMBER = (
    "{type: page_number, total_pages_header: X-Total-Pages, total_rows_header: X-Total, "
    "past_end_statuses: [400], past_end_codes: [rest_post_invalid_page_number]}"
)


def run_declared(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: ApiServer,
    yaml_text: str,
    secrets: dict[str, str] | None = None,
):
    with api_server(server):
        root = use_local_lake(tmp_path, monkeypatch, {BASE_URL_PARAMETER: f"{server.origin}/api"})
        for secret_id, value in (secrets or {}).items():
            variable = (
                "LAKEHOUSE_SECRET_" + "".join(c if c.isalnum() else "_" for c in secret_id).upper()
            )
            monkeypatch.setenv(variable, value)
        module = write_defs(tmp_path, monkeypatch, yaml_text)
        result = run_job(load(module), "declared")
    return result, root


def assert_all_items(root: Path) -> None:
    items = table(root, "silver", "declared", "items")
    assert items["id"].tolist() == list(range(1, 24))
    assert str(items["id"].dtype) == "int64"
    assert items["info"].tolist() == [f"<b>{i}</b>" for i in range(1, 24)]
    assert items.loc[0, "name"] == "name 1 &amp; co"


@pytest.mark.parametrize(
    ("path", "paginator", "record_path"),
    [
        ("page_number", PAGE_NUMBER, None),
        ("link", "{type: link_header}", None),
        ("next_url", "{type: next_url, next_field: next}", "results.items"),
        ("offset", "{type: offset, limit: 5, total_field: total}", "items"),
        ("cursor", "{type: cursor, cursor_field: next_cursor, cursor_param: cursor}", "data"),
        ("single", "{type: single_page}", None),
    ],
)
def test_each_paginator_gets_every_row_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, paginator: str, record_path: str
) -> None:
    server = ApiServer(records())
    result, root = run_declared(
        tmp_path, monkeypatch, server, declaration(path, paginator, record_path=record_path)
    )
    assert result.success, failures(result)
    assert_all_items(root)
    expected_requests = 1 if path == "single" else 5
    assert len(server.requests_to(f"/api/{path}")) == expected_requests


def test_lying_total_pages_ends_at_the_400_past_the_real_last_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ApiServer(records(), extra_pages=3)
    result, root = run_declared(
        tmp_path, monkeypatch, server, declaration("page_number", PAGE_NUMBER)
    )
    assert result.success, failures(result)
    assert_all_items(root)
    pages = [q.get("page", "1") for q in server.requests_to("/api/page_number")]
    assert pages == ["1", "2", "3", "4", "5", "6"]  # the sixth answers 400: the end, not data


def test_lying_total_pages_ends_at_an_empty_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ApiServer(records(25), extra_pages=2, past_end="empty")
    paginator = "{type: page_number, total_pages_header: X-Total-Pages}"
    result, root = run_declared(
        tmp_path, monkeypatch, server, declaration("page_number", paginator)
    )
    assert result.success, failures(result)
    assert table(root, "silver", "declared", "items")["id"].tolist() == list(range(1, 26))
    assert len(server.requests_to("/api/page_number")) == 6  # 5 full pages, then the empty one


def test_link_loop_fails_bounded_naming_the_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ApiServer(records(), link_loop=True)
    result, root = run_declared(
        tmp_path, monkeypatch, server, declaration("link", "{type: link_header, max_pages: 50}")
    )
    assert not result.success
    message = failures(result)["raw__declared__items"]
    assert "declared/items" in message and "paging loop" in message
    assert len(server.requests_to("/api/link")) == 5
    assert not (root / "test-silver" / "declared" / "items").exists()


AUTH_CASES = {
    "bearer": ("{type: bearer, secret: test/token}", {"test/token": "s3cret-token"}),
    "header": ("{type: api_key, secret: test/key}", {"test/key": "k-123"}),
    "query": ("{type: api_key, secret: test/key, query_param: api_key}", {"test/key": "k-456"}),
    "basic": (
        "{type: basic, secret: test/basic}",
        {"test/basic": '{"username": "ada", "password": "pa:ss"}'},
    ),
    "oauth2": (
        "{type: oauth2_client_credentials, secret: test/client, token_url: TOKEN_URL}",
        {"test/client": '{"client_id": "client", "client_secret": "shh"}'},
    ),
}
EXPECTED = {
    "bearer": "s3cret-token",
    "header": "k-123",
    "query": "k-456",
    "basic": "ada:pa:ss",
    "oauth2": "client:shh",
}


@pytest.mark.parametrize("kind", list(AUTH_CASES))
def test_each_auth_kind_reaches_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    auth, secrets = AUTH_CASES[kind]
    server = ApiServer(records(), auth=(kind, EXPECTED[kind]))
    with api_server(server):
        auth = auth.replace("TOKEN_URL", f"{server.origin}/oauth/token")
        root = use_local_lake(tmp_path, monkeypatch, {BASE_URL_PARAMETER: f"{server.origin}/api"})
        for secret_id, value in secrets.items():
            monkeypatch.setenv("LAKEHOUSE_SECRET_" + secret_id.replace("/", "_").upper(), value)
        module = write_defs(
            tmp_path, monkeypatch, declaration("page_number", PAGE_NUMBER, auth=auth)
        )
        result = run_job(load(module), "declared")
    assert result.success, failures(result)
    assert_all_items(root)
    if kind == "oauth2":
        assert server.token_requests == 1  # one token for all five pages


def test_wrong_credentials_fail_naming_the_dataset_never_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ApiServer(records(), auth=("bearer", "right"))
    result, _ = run_declared(
        tmp_path,
        monkeypatch,
        server,
        declaration("page_number", PAGE_NUMBER, auth="{type: bearer, secret: test/token}"),
        secrets={"test/token": "wrong-token-value"},
    )
    assert not result.success
    message = failures(result)["raw__declared__items"]
    assert "declared/items" in message and "HTTP 401" in message
    assert "wrong-token-value" not in str(result.all_events)


def test_child_endpoint_is_asked_once_per_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ApiServer(records(7))
    result, root = run_declared(
        tmp_path, monkeypatch, server, declaration("page_number", PAGE_NUMBER, children=True)
    )
    assert result.success, failures(result)
    children = table(root, "silver", "declared", "children")
    assert children["n"].tolist() == [p * 10 + i for p in range(1, 8) for i in (1, 2)]
    assert children["item_id"].tolist() == [p for p in range(1, 8) for _ in (1, 2)]
    asked = [p for m, p, _ in server.log if p.startswith("/api/parents/")]
    assert asked == [f"/api/parents/{p}/children" for p in range(1, 8)]
