"""What a declared REST source does at run time, apart from Dagster: credentials on requests,
the declared paginator, the incremental cursor, child endpoints.

Credentials ride on an auth object bound to the API's origin: the client follows redirects and
next links itself (one request per hop), and a ``requests`` session's auth would be sent on
every hop, so an allow-listed other host would receive them. Here a request to another origin
goes out bare. Secrets are read when a run starts and never reach a message or metadata.

The cursor is read from the data: the newest ``incremental.field`` in the silver version the
run merges into. It therefore advances only when silver publishes (a run that fails anywhere
before that leaves it where it was, and the next run asks again), and it needs no state of
its own that could disagree with the table.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import requests

from lakehouse_assets.components import model
from lakehouse_assets.errors import ConfigurationError, SourceError
from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.object_store import ObjectStore
from lakehouse_assets.resources.http_api import HttpApiResource
from lakehouse_assets.resources.http_client import HttpClient, parse_json, require_ok
from lakehouse_assets.resources.paging import (
    CursorPaging,
    LinkHeaderPaging,
    NextUrlPaging,
    OffsetPaging,
    Page,
    PageNumberPaging,
    PageRequest,
    Paginator,
    SinglePage,
    iter_pages,
)
from lakehouse_assets.resources.parameters import ParametersResource
from lakehouse_assets.resources.secrets import SecretsResource
from lakehouse_assets.resources.url_policy import origin

#: Renew an OAuth2 token this long before the server says it expires.
TOKEN_EXPIRY_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class PageNumberOrLinkPaging(PageNumberPaging):
    """Page numbers as far as the total-pages header says, or the ``Link`` of ``rel`` where a
    page sends one: whichever the server pages by. With neither, the first page is all."""

    rel: str = "next"

    def next_request(self, page: Page, first: Page) -> PageRequest | None:
        link = page.response.links.get(self.rel, {}).get("url")
        if link:
            return PageRequest(urljoin(page.url, link))
        return super().next_request(page, first)


def paginator(spec: model.Paginator | None, record_path: str | None) -> Paginator:
    """The declaration as one of the platform's paginators (none declared: a single page)."""
    items = record_path or None
    if spec is None or isinstance(spec, model.SinglePageSpec):
        return SinglePage(items_field=items)
    if isinstance(spec, model.PageNumberSpec):
        kind = PageNumberPaging if spec.link_rel is None else PageNumberOrLinkPaging
        extra = {} if spec.link_rel is None else {"rel": spec.link_rel}
        return kind(
            **extra,
            total_pages_header=spec.total_pages_header,
            total_rows_header=spec.total_rows_header,
            page_param=spec.page_param,
            first_page=spec.first_page,
            stop_at_empty_page=spec.stop_at_empty_page,
            past_end_statuses=frozenset(spec.past_end_statuses),
            past_end_codes=frozenset(spec.past_end_codes),
            items_field=items,
            max_pages=spec.max_pages,
        )
    if isinstance(spec, model.LinkHeaderSpec):
        return LinkHeaderPaging(rel=spec.rel, items_field=items, max_pages=spec.max_pages)
    if isinstance(spec, model.NextUrlSpec):
        return NextUrlPaging(
            next_field=spec.next_field,
            items_field=items or "items",
            total_field=spec.total_field,
            max_pages=spec.max_pages,
        )
    if isinstance(spec, model.OffsetSpec):
        return OffsetPaging(
            limit=spec.limit,
            offset_param=spec.offset_param,
            limit_param=spec.limit_param,
            total_field=spec.total_field,
            total_header=spec.total_header,
            items_field=items or "items",
            max_pages=spec.max_pages,
        )
    return CursorPaging(
        cursor_field=spec.cursor_field,
        cursor_param=spec.cursor_param,
        items_field=items or "data",
        max_pages=spec.max_pages,
    )


class OriginBoundAuth(requests.auth.AuthBase):
    """Adds credentials to requests for one origin only (see the module docstring)."""

    def __init__(self, api_origin: tuple[str, str, int | None], credentials: Any):
        self.api_origin = api_origin
        self.credentials = credentials

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"  # never the credentials

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin(request.url or "") != self.api_origin:
            return request
        return self.credentials(request)


class _Header:
    def __init__(self, name: str, value: str):
        self.name, self.value = name, value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.name] = self.value
        return request


class _QueryParam:
    def __init__(self, name: str, value: str):
        self.name, self.value = name, value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.prepare_url(request.url, {self.name: self.value})
        return request


class _OAuth2Token:
    """Client-credentials token, fetched on first use and renewed before it expires."""

    def __init__(
        self, client: HttpClient, source: str, token_url: str, secret: dict[str, Any], scope: str
    ):
        self.client, self.source, self.token_url = client, source, token_url
        self.secret, self.scope = secret, scope
        self.token: str | None = None
        self.expires_at = 0.0
        self.fetches = 0
        self._lock = threading.Lock()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.current()}"
        return request

    def current(self) -> str:
        with self._lock:
            if self.token is None or time.monotonic() >= self.expires_at:
                self._fetch()
            assert self.token is not None
            return self.token

    def _fetch(self) -> None:
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        auth = (str(self.secret.get("client_id", "")), str(self.secret.get("client_secret", "")))
        response = self.client.send(
            self.source, "token", "POST", self.token_url, data=data, auth=auth, label="the token"
        )
        require_ok(response, self.source, "token", label="the token request")
        answer = parse_json(response.content, self.source, "token")
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceError(self.source, "token", "the token answer has no access_token")
        lifetime = answer.get("expires_in", 3600)
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
        self.token = token
        self.expires_at = time.monotonic() + max(0.0, seconds - TOKEN_EXPIRY_MARGIN_SECONDS)
        self.fetches += 1


def _secret_json(secrets: SecretsResource, secret_id: str, *fields: str) -> dict[str, Any]:
    value = secrets.get_json(secret_id)
    missing = [f for f in fields if not value.get(f)]
    if missing:
        raise ConfigurationError(f"secret {secret_id} lacks {', '.join(missing)}")
    return value


def build_auth(
    spec: model.RestSourceSpec,
    base_url: str,
    secrets: SecretsResource,
    parameters: ParametersResource,
    http: HttpApiResource,
) -> OriginBoundAuth | None:
    """The declared credentials, bound to the base URL's origin (None for ``type: none``)."""
    auth = spec.auth
    credentials: Any
    if isinstance(auth, model.NoAuth):
        return None
    if isinstance(auth, model.BearerAuth):
        credentials = _Header("Authorization", f"Bearer {secrets.get_string(auth.secret)}")
    elif isinstance(auth, model.ApiKeyAuth):
        key = secrets.get_string(auth.secret)
        credentials = (
            _QueryParam(auth.query_param, key)
            if auth.query_param
            else _Header(auth.header or "", key)
        )
    elif isinstance(auth, model.BasicAuth):
        value = _secret_json(secrets, auth.secret, "username", "password")
        credentials = requests.auth.HTTPBasicAuth(str(value["username"]), str(value["password"]))
    else:
        value = _secret_json(secrets, auth.secret, "client_id", "client_secret")
        token_url = auth.token_url or parameters.get_string(auth.token_url_parameter or "")
        http.check_url(token_url, f"{spec.source} token URL")
        credentials = _OAuth2Token(
            http.http_client(), spec.source, token_url, value, auth.scope or ""
        )
    return OriginBoundAuth(origin(base_url), credentials)


def endpoint_url(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def requested_fields(dataset: model.DatasetSpec) -> str:
    """The top-level fields the declared columns come from, for a ``_fields``-style parameter."""
    wanted: dict[str, None] = {}
    for name, column in dataset.columns.items():
        field = column.field or name
        wanted.setdefault(field, None)
    return ",".join(wanted)


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended (they then travel on every page the paginator asks)."""
    if not params:
        return url
    request = requests.Request("GET", url, params=params).prepare()
    return request.url or url


# --- the incremental cursor -----------------------------------------------------------------
def merge_base_key(
    store: ObjectStore, bucket: str, address: TableAddress, partition: str
) -> str | None:
    """The silver version a partition's rows merge into: the partition's own (a rerun), else
    the newest of an earlier partition, else none (the first load)."""
    from lakehouse_assets.lake.snapshots import kept_snapshots

    kept = kept_snapshots(store, bucket, address)  # a day kept as a reference: its holder
    if partition in kept:
        return kept[partition]
    earlier = [p for p in kept if p < partition]
    return kept[max(earlier)] if earlier else None


def newest_value(path: Path, column: str) -> Any:
    """The largest value of ``column`` in a Parquet file (None when empty or absent)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if column not in parquet.schema_arrow.names:
        return None
    values = parquet.read(columns=[column]).column(column)
    return pc.max(values).as_py() if len(values) else None


def cursor_text(incremental: model.IncrementalSpec, kind: str, newest: Any) -> str | None:
    """What the cursor parameter says: ``newest`` minus the lag, or the initial value."""
    if newest is None:
        return incremental.initial_value
    lag = incremental.lag_seconds
    if kind == "int64":
        return str(int(newest) - lag)
    moment = newest - timedelta(seconds=lag)
    if kind == "timestamp":
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


# --- child endpoints ------------------------------------------------------------------------
def parent_values(snapshot: Path, field: str) -> list[Any]:
    """Distinct values of ``field`` in a raw snapshot, in first-seen order."""
    rows = json.loads(snapshot.read_bytes())
    seen: dict[Any, None] = {}
    for row in rows if isinstance(rows, list) else []:
        value = row.get(field) if isinstance(row, dict) else None
        if value is not None and not isinstance(value, dict | list):
            seen.setdefault(value, None)
    return list(seen)


def download_children(
    client: HttpClient,
    source: str,
    dataset: str,
    url_template: str,
    placeholder: str,
    values: list[Any],
    paging: Paginator,
    column: str,
    dest: Path,
) -> tuple[int, int]:
    """Every page of the child endpoint for each parent value, as one JSON array in ``dest``,
    each row tagged with its parent's value as ``column``; returns (rows, pages)."""
    rows = pages = 0
    with open(dest, "w", encoding="utf-8") as out:
        out.write("[")
        for value in values:
            url = url_template.replace(f"{{{placeholder}}}", quote(str(value), safe=""))
            for page in _pages(client, source, dataset, url, paging):
                pages += 1
                for item in page:
                    if not isinstance(item, dict):
                        raise SourceError(source, dataset, f"page {pages}: a row is not an object")
                    out.write("," if rows else "")
                    out.write(json.dumps({**item, column: value}, ensure_ascii=False))
                    rows += 1
        out.write("]")
    return rows, pages


def _pages(
    client: HttpClient, source: str, dataset: str, url: str, paging: Paginator
) -> Iterator[list[Any]]:
    for page in iter_pages(client, source, dataset, url, paging):
        yield page.items(paging.items_field)


def check_same_origin(base_url: str, url: str, source: str) -> None:
    if origin(base_url) != origin(url):
        raise ConfigurationError(f"{source}: an endpoint path leaves the base URL's origin")


def fetched_now() -> datetime:
    return datetime.now(UTC)
