"""How an API pages, declared by the caller: page numbers with a total-pages header, RFC 8288
``Link: rel="next"``, a next-URL field in the body, offset/limit with a total, or a cursor.

A paginator is a small frozen declaration; :func:`iter_pages` drives any of them with the same
bounds: at most ``max_pages`` pages, a page requested twice (a ``Link`` or cursor loop) is an
error, a server-given next URL is checked by the URL policy, and an answer that means "past the
end" (an empty page, or a declared error status such as WordPress's 400
``rest_post_invalid_page_number``) ends paging and is never taken for data.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests

from lakehouse_assets.errors import SourceError
from lakehouse_assets.resources.http_client import Deadline, HttpClient, parse_json, status_error
from lakehouse_assets.resources.url_policy import hop_problem

DEFAULT_MAX_PAGES = 10_000
_EMPTY_ARRAY = re.compile(rb"\s*\[\s*\]\s*")


@dataclass(frozen=True)
class PageRequest:
    """What to ask for one page: a URL (kept out of reprs) and query parameters added to it."""

    url: str = field(repr=False)
    params: tuple[tuple[str, str], ...] = ()

    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.url, tuple(sorted(self.params))


@dataclass(eq=False)
class Page:
    """One page as received: its 200 response and body bytes, and the body parsed on demand."""

    source: str
    dataset: str
    number: int
    request: PageRequest = field(repr=False)
    response: requests.Response = field(repr=False)
    _json: Any = field(default=None, init=False, repr=False)
    _parsed: bool = field(default=False, init=False, repr=False)

    @property
    def body(self) -> bytes:
        return self.response.content

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    @property
    def url(self) -> str:
        """The URL the page was served from (after redirects); never put it in a message."""
        return self.response.url or self.request.url

    def json(self) -> Any:
        """The body parsed as JSON (once), or a SourceError naming the page."""
        if not self._parsed:
            self._json = parse_json(self.body, self.source, self.dataset, self.number)
            self._parsed = True
        return self._json

    def value_at(self, path: str) -> Any:
        """A value of the JSON object body by dotted path (``paging.next``), None if absent."""
        value = self.json()
        if not isinstance(value, dict):
            kind = type(value).__name__
            raise SourceError(
                self.source, self.dataset, f"page {self.number} is a JSON {kind}, not an object"
            )
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def items(self, items_field: str | None) -> list[Any]:
        """The page's rows: the body itself (a JSON array), or the array at ``items_field``."""
        value = self.json() if items_field is None else self.value_at(items_field)
        if not isinstance(value, list):
            where = "the body" if items_field is None else f"field {items_field!r}"
            raise SourceError(
                self.source, self.dataset, f"page {self.number}: {where} is not a JSON array"
            )
        return value

    def is_empty(self, items_field: str | None) -> bool:
        if items_field is None:
            return _EMPTY_ARRAY.fullmatch(self.body) is not None
        return not self.items(items_field)

    def int_header(self, name: str) -> int | None:
        value = self.headers.get(name)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise SourceError(
                self.source, self.dataset, f"header {name} is not an integer"
            ) from None
        if number < 0:
            raise SourceError(self.source, self.dataset, f"header {name} is negative")
        return number


class Paginator(ABC):
    """How an endpoint pages. Subclasses are frozen dataclasses: declarations, not state.

    ``items_field`` says where a page's rows are: None when the body is the JSON array itself,
    else the (dotted) field of a JSON object body that holds it.
    """

    max_pages: int
    items_field: str | None

    def first_request(self, url: str) -> PageRequest:
        return PageRequest(url)

    @abstractmethod
    def next_request(self, page: Page, first: Page) -> PageRequest | None:
        """The request for the page after ``page``, or None when ``page`` was the last."""

    def is_past_end(self, response: requests.Response) -> bool:
        """Whether a non-200 answer to a later page means "no such page": the end, not data."""
        return False

    def expected_rows(self, first: Page) -> int | None:
        """The row total the endpoint announces, if it does (a download checks it)."""
        return None


@dataclass(frozen=True)
class SinglePage(Paginator):
    """An endpoint that answers with everything at once."""

    items_field: str | None = None
    max_pages: int = 1

    def next_request(self, page: Page, first: Page) -> PageRequest | None:
        return None


@dataclass(frozen=True)
class PageNumberPaging(Paginator):
    """``?page=N`` (the first page asked for without it), as many pages as the total-pages
    header says (one if the first page lacks it); with no header declared, until an empty page.

    A header that overstates the pages is survived: an empty page (``stop_at_empty_page``) or a
    ``past_end_statuses`` answer (with a JSON ``code`` in ``past_end_codes``, if any are given)
    ends paging. ``total_rows_header`` is the announced row count a download checks.
    """

    total_pages_header: str | None = None
    total_rows_header: str | None = None
    page_param: str = "page"
    first_page: int = 1
    stop_at_empty_page: bool = True
    past_end_statuses: frozenset[int] = frozenset()
    past_end_codes: frozenset[str] = frozenset()
    items_field: str | None = None
    max_pages: int = DEFAULT_MAX_PAGES

    def next_request(self, page: Page, first: Page) -> PageRequest | None:
        total = None
        if self.total_pages_header:  # declared but not sent: the endpoint is not paged
            total = first.int_header(self.total_pages_header) or 1
        if total is not None and page.number >= total:
            return None
        if self.stop_at_empty_page and page.is_empty(self.items_field):
            return None
        number = self.first_page + page.number
        return PageRequest(first.request.url, ((self.page_param, str(number)),))

    def is_past_end(self, response: requests.Response) -> bool:
        if response.status_code not in self.past_end_statuses:
            return False
        if not self.past_end_codes:
            return True
        try:
            code = response.json().get("code")
        except (ValueError, AttributeError):
            return False
        return code in self.past_end_codes

    def expected_rows(self, first: Page) -> int | None:
        return first.int_header(self.total_rows_header) if self.total_rows_header else None


@dataclass(frozen=True)
class LinkHeaderPaging(Paginator):
    """RFC 8288 ``Link: <…>; rel="next"``: follow it until a page has none."""

    rel: str = "next"
    items_field: str | None = None
    max_pages: int = DEFAULT_MAX_PAGES

    def next_request(self, page: Page, first: Page) -> PageRequest | None:
        link = page.response.links.get(self.rel, {}).get("url")
        return PageRequest(urljoin(page.url, link)) if link else None


@dataclass(frozen=True)
class NextUrlPaging(Paginator):
    """A JSON object body naming the next page's URL (Spotify's ``next``); null ends paging."""

    next_field: str = "next"
    items_field: str | None = "items"
    total_field: str | None = None
    max_pages: int = DEFAULT_MAX_PAGES

    def next_request(self, page: Page, first: Page) -> PageRequest | None:
        link = page.value_at(self.next_field)
        if link in (None, ""):
            return None
        if not isinstance(link, str):
            raise SourceError(
                page.source, page.dataset, f"page {page.number}: {self.next_field!r} is not a URL"
            )
        return PageRequest(urljoin(page.url, link))

    def expected_rows(self, first: Page) -> int | None:
        return _int_field(first, self.total_field) if self.total_field else None


@dataclass(frozen=True)
class OffsetPaging(Paginator):
    """``?offset=N&limit=L``, advancing by the rows each page held, until the announced total
    (``total_field`` in the body or ``total_header``) is reached or a page comes back short."""

    limit: int = 100
    offset_param: str = "offset"
    limit_param: str = "limit"
    total_field: str | None = "total"
    total_header: str | None = None
    items_field: str | None = "items"
    max_pages: int = DEFAULT_MAX_PAGES

    def first_request(self, url: str) -> PageRequest:
        return self._at(url, 0)

    def _at(self, url: str, offset: int) -> PageRequest:
        return PageRequest(
            url, ((self.offset_param, str(offset)), (self.limit_param, str(self.limit)))
        )

    def next_request(self, page: Page, first: Page) -> PageRequest | None:
        rows = len(page.items(self.items_field))
        offset = int(dict(page.request.params)[self.offset_param]) + rows
        total = self.expected_rows(first)
        if rows == 0 or (total is not None and offset >= total):
            return None
        if total is None and rows < self.limit:
            return None
        return self._at(first.request.url, offset)

    def expected_rows(self, first: Page) -> int | None:
        if self.total_header:
            return first.int_header(self.total_header)
        return _int_field(first, self.total_field) if self.total_field else None


@dataclass(frozen=True)
class CursorPaging(Paginator):
    """A cursor in the JSON object body, sent back as a query parameter; null or "" ends it."""

    cursor_field: str = "next_cursor"
    cursor_param: str = "cursor"
    items_field: str | None = "data"
    max_pages: int = DEFAULT_MAX_PAGES

    def next_request(self, page: Page, first: Page) -> PageRequest | None:
        cursor = page.value_at(self.cursor_field)
        if cursor in (None, ""):
            return None
        if not isinstance(cursor, str | int):
            raise SourceError(
                page.source,
                page.dataset,
                f"page {page.number}: {self.cursor_field!r} is not a cursor",
            )
        return PageRequest(first.request.url, ((self.cursor_param, str(cursor)),))


def _int_field(page: Page, path: str) -> int | None:
    value = page.value_at(path)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SourceError(page.source, page.dataset, f"field {path!r} is not a row count")
    return value


Fetch = Callable[[PageRequest, int], requests.Response]


def iter_pages(
    client: HttpClient,
    source: str,
    dataset: str,
    url: str,
    paging: Paginator,
    *,
    headers: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
    fetch: Fetch | None = None,
) -> Iterator[Page]:
    """Every page of ``url`` as ``paging`` declares, each yielded as it arrives.

    ``fetch(request, page_number)`` sends one page's request (default: ``client.send`` GET with
    ``headers``); a caller that must, say, refresh a token on 401 passes its own. A non-200
    answer fails naming the page, unless it is the declared past-the-end answer to a later page.
    """

    def default_fetch(request: PageRequest, number: int) -> requests.Response:
        params = dict(request.params) or None
        return client.send(
            source,
            dataset,
            "GET",
            request.url,
            page=number,
            params=params,
            headers=headers,
            deadline=deadline,
        )

    send = fetch or default_fetch
    request: PageRequest | None = paging.first_request(url)
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    first: Page | None = None
    number = 0
    while request is not None:
        number += 1
        if number > paging.max_pages:
            raise SourceError(
                source, dataset, f"more than {paging.max_pages} pages (the paging limit); stopped"
            )
        earlier = seen.setdefault(request.key(), number)
        if earlier != number:
            raise SourceError(
                source, dataset, f"page {number} would repeat page {earlier} (a paging loop)"
            )
        response = send(request, number)
        if response.status_code != 200:
            if first is not None and paging.is_past_end(response):
                return
            raise status_error(source, dataset, response, number)
        page = Page(source, dataset, number, request, response)
        if first is None:
            first = page
        yield page
        following = paging.next_request(page, first)
        if following is not None and following.url != request.url:
            problem = hop_problem(page.url, following.url, allowed_hosts=client.allowed_hosts)
            if problem is not None:
                raise SourceError(
                    source, dataset, f"next link refused after page {number}: {problem}"
                )
        request = following
