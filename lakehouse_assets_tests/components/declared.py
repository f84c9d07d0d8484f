"""Helpers: a declared source from YAML a test writes (a defs package in tmp_path), a local lake
for it, its job run in-process as ``lakehouse run`` would, and a REST API on loopback that
pages every way the component declares and checks every kind of credentials."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import dagster as dg
import pandas as pd
import pytest
import yaml

from lakehouse_assets import settings
from lakehouse_assets.components.loading import declared_sources
from lakehouse_assets.components.resource import RestApiResource
from lakehouse_assets.deployments import local_resources
from lakehouse_assets_tests.http_fixtures import serving

BASE_URL_PARAMETER = "/test/api/base_url"


def write_defs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declaration: str, **files: str
) -> str:
    """A defs package in ``tmp_path`` holding ``declaration`` (and ``files``); its module."""
    name = f"declared_{uuid.uuid4().hex[:10]}"
    folder = tmp_path / "packages" / name / "source"
    folder.mkdir(parents=True)
    (folder / "defs.yaml").write_text(declaration, encoding="utf-8")
    for file_name, text in files.items():
        (folder / file_name.replace("__", ".")).write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "packages"))
    return name


def use_local_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parameters: dict[str, Any]
) -> Path:
    """LAKEHOUSE_ROOT and a parameters file (test buckets plus ``parameters``) in tmp_path."""
    root = tmp_path / "lake"
    values = {settings.PARAMETER_NAMES.bucket(layer): f"test-{layer}" for layer in settings.LAYERS}
    path = tmp_path / "parameters.yaml"
    path.write_text(yaml.safe_dump({**values, **parameters}), encoding="utf-8")
    monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
    monkeypatch.setenv(settings.ROOT_VAR, str(root))
    monkeypatch.setenv(settings.PARAMETERS_FILE_VAR, str(path))
    monkeypatch.setenv(settings.STEP_RETRY_DELAY_VAR, "0.05")
    return root


def load(module: str, **resources: object) -> dg.Definitions:
    pipeline = settings.pipeline_settings(settings.Deployment.LOCAL)
    return dg.Definitions.merge(
        declared_sources(pipeline, module),
        dg.Definitions(
            resources={
                **local_resources(),
                "rest_api": RestApiResource(max_attempts=1, backoff_seconds=0.0),
                **resources,
            }
        ),
    )


def run_job(
    defs: dg.Definitions, source: str, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(f"{source}_job")
    assert job.partitions_def is not None
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        partition_key=job.partitions_def.get_last_partition_key(),
    )


def failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        event.step_key or "": event.step_failure_data.error.message
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_FAILURE
    }


def table(root: Path, layer: str, source: str, dataset: str) -> pd.DataFrame:
    return pd.read_parquet(root / f"test-{layer}" / source / dataset)


# --- a REST API on loopback -----------------------------------------------------------------
@dataclass
class ApiServer:
    """``/api/<paging>`` serves ``records`` ``per_page`` at a time, paged the way the path
    names; ``/api/parents/<id>/children`` a parent's two children; ``/oauth/token`` tokens."""

    records: list[dict[str, Any]]
    per_page: int = 5
    #: Pages announced beyond the real ones (a lying X-Total-Pages).
    extra_pages: int = 0
    #: Past the last page: "400" (WordPress) or "empty" (an empty array).
    past_end: str = "400"
    link_loop: bool = False
    #: (kind, expected) the API checks: ("bearer", token), ("header", key), ("query", key),
    #: ("basic", "user:password"), ("oauth2", "client:secret").
    auth: tuple[str, str] | None = None
    origin: str = ""
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    token_requests: int = 0
    issued: set[str] = field(default_factory=set)

    def pages(self) -> int:
        return -(-len(self.records) // self.per_page)

    def page_rows(self, page: int) -> list[dict[str, Any]]:
        return self.records[(page - 1) * self.per_page : page * self.per_page]

    def authorized(self, headers: Any, query: dict[str, str]) -> bool:
        if self.auth is None:
            return True
        kind, expected = self.auth
        given = headers.get("Authorization") or ""
        if kind == "bearer":
            return given == f"Bearer {expected}"
        if kind == "header":
            return headers.get("X-API-Key") == expected
        if kind == "query":
            return query.get("api_key") == expected
        if kind == "basic":
            return given == "Basic " + base64.b64encode(expected.encode()).decode()
        return given.removeprefix("Bearer ") in self.issued

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        self.log.append((method, path, query))
        if path == "/oauth/token":
            client = "Basic " + base64.b64encode((self.auth or ("", ""))[1].encode()).decode()
            form = parse_qs(body.decode())
            if headers.get("Authorization") != client or form.get("grant_type") != [
                "client_credentials"
            ]:
                return 401, {}, {"error": "invalid_client"}
            self.token_requests += 1
            token = f"token-{self.token_requests}"
            self.issued.add(token)
            return 200, {}, {"access_token": token, "token_type": "bearer", "expires_in": 3600}
        if not self.authorized(headers, query):
            return 401, {}, {"code": "rest_forbidden"}
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "parents"] and len(parts) == 4:
            parent = int(parts[2])
            return 200, {}, [{"n": parent * 10 + i} for i in (1, 2)]
        kind = parts[1] if len(parts) == 2 else ""
        page = int(query.get("page", "1"))
        url = f"{self.origin}{path}"
        if kind == "page_number":
            if page > self.pages():
                if self.past_end == "400":
                    return 400, {}, {"code": "rest_post_invalid_page_number"}
                return 200, self._totals(), []
            return 200, self._totals(), self.page_rows(page)
        if kind == "link":
            headers_out = {}
            if page < self.pages():
                headers_out["Link"] = f'<{url}?{urlencode({"page": page + 1})}>; rel="next"'
            elif self.link_loop:
                headers_out["Link"] = f'<{url}?{urlencode({"page": page - 1})}>; rel="next"'
            return 200, headers_out, self.page_rows(page)
        if kind == "next_url":
            following = f"{url}?page={page + 1}" if page < self.pages() else None
            return 200, {}, {"results": {"items": self.page_rows(page)}, "next": following}
        if kind == "offset":
            offset, limit = int(query["offset"]), int(query["limit"])
            rows = self.records[offset : offset + limit]
            return 200, {}, {"items": rows, "total": len(self.records)}
        if kind == "cursor":
            page = int(query.get("cursor", "1"))
            following = str(page + 1) if page < self.pages() else None
            return 200, {}, {"data": self.page_rows(page), "next_cursor": following}
        if kind == "single":
            return 200, {}, self.records
        return 404, {}, {"code": "rest_no_route"}

    def _totals(self) -> dict[str, str]:
        return {
            "X-Total": str(len(self.records)),
            "X-Total-Pages": str(self.pages() + self.extra_pages),
        }

    def requests_to(self, path: str) -> list[dict[str, str]]:
        return [q for m, p, q in self.log if p == path and m == "GET"]


@contextmanager
def api_server(server: ApiServer) -> Iterator[ApiServer]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, value = server.answer(method, parts.path, query, self.headers, body)
            data = json.dumps(value).encode()
            self.send_response(status)
            for name, text in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, text)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    with serving(Handler) as origin:
        server.origin = origin
        yield server


def records(count: int = 23) -> list[dict[str, Any]]:
    return [
        {"id": i, "name": f"name {i} &amp; co", "info": {"rendered": f"<b>{i}</b>"}}
        for i in range(1, count + 1)
    ]


def declaration(
    path: str,
    paginator: str,
    *,
    auth: str = "{type: none}",
    record_path: str | None = None,
    children: bool = False,
) -> str:
    """A source ``declared`` with one dataset ``items`` at ``path`` (and ``children``)."""
    record = f"\n      record_path: {record_path}" if record_path else ""
    child = (
        """
    - name: children
      description: Each item's children.
      path: parents/{id}/children
      parent: {dataset: items, field: id, column: item_id}
      key: [n]
      columns: {n: int64, item_id: int64}"""
        if children
        else ""
    )
    return f"""type: lakehouse_assets.components.RestSourceComponent
attributes:
  source: declared
  description: A test API.
  base_url_parameter: {BASE_URL_PARAMETER}
  auth: {auth}
  datasets:
    - name: items
      description: Test items.
      path: {path}
      paginator: {paginator}{record}
      key: [id]
      columns:
        id: int64
        name: string
        info: {{type: string, path: rendered}}{child}
"""
