"""Downloading JSON arrays from HTTP endpoints: one session, timeouts, bounded retries, paging.

Errors name the source, dataset and page, never the URL: endpoint URLs may carry secrets.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from lakehouse_assets.errors import SourceError
from lakehouse_assets.read_ahead import read_ahead

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
TOTAL_PAGES_HEADER = "X-WP-TotalPages"
TOTAL_ROWS_HEADER = "X-WP-Total"
#: Downloaded pages are validated in groups of about this many bytes, on a worker thread,
#: while the next pages download (one columnar pass per group).
VALIDATION_GROUP_BYTES = 64 * 2**20
BODY_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class RetrySettings:
    """Exponential backoff with full jitter; every wait counts against one bounded budget."""

    max_attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    max_total_wait_seconds: float = 120.0


@dataclass(frozen=True)
class JsonArrayDownload:
    path: Path
    rows: int
    pages: int
    size_bytes: int
    sha256: str
    attempts: int


def parse_json_array(body: bytes, source: str, dataset: str, page: int = 1) -> list[Any]:
    """The body as a JSON array of objects, or a SourceError saying what is wrong with it."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = ""
        if isinstance(exc, json.JSONDecodeError):
            position = f" at line {exc.lineno} column {exc.colno}"
        looks_html = body.lstrip()[:1] == b"<"
        hint = " (looks like an HTML page)" if looks_html else ""
        raise SourceError(
            source, dataset, f"page {page} is not valid JSON{position}{hint}"
        ) from None
    if not isinstance(value, list):
        raise SourceError(
            source, dataset, f"page {page} is a JSON {type(value).__name__}, not an array"
        )
    for index, row in enumerate(value):
        if not isinstance(row, dict):
            kind = type(row).__name__
            raise SourceError(
                source, dataset, f"page {page} item {index} is a {kind}, not an object"
            )
    return value


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    parsed = email.utils.parsedate_to_datetime(value)
    return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class JsonArrayClient:
    """GETs JSON arrays with a per-call timeout; only HTTP 200 is success."""

    def __init__(
        self,
        session: requests.Session,
        *,
        timeout_seconds: float = 30.0,
        retry: RetrySettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.session = session
        self.timeout_seconds = timeout_seconds
        self.retry = retry or RetrySettings()
        self.sleep = sleep

    def _get(
        self, source: str, dataset: str, url: str, page: int, params: dict[str, str]
    ) -> tuple[requests.Response, int]:
        """One page, retried on timeouts, connection errors, 5xx and 429; 4xx fail at once."""
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            problem: str
            transient = True
            retry_after: float | None = None
            try:
                response = self.session.get(
                    url, params=params or None, timeout=self.timeout_seconds, stream=True
                )
                with response:
                    if response.status_code == 200:
                        # Read in large chunks: requests' own .content reads 10 KB at a time.
                        response._content = b"".join(response.iter_content(BODY_CHUNK_BYTES))
            except requests.Timeout:
                problem = f"timed out after {self.timeout_seconds:g}s on page {page}"
            except requests.ConnectionError:
                problem = f"connection failed on page {page}"
            except requests.RequestException as exc:
                problem = f"request failed on page {page} ({type(exc).__name__})"
                transient = False
            else:
                if response.status_code == 200:
                    return response, attempt
                problem = f"HTTP {response.status_code} on page {page}"
                transient = response.status_code in RETRYABLE_STATUSES
                retry_after = _retry_after_seconds(response) if transient else None
            if not transient or attempt >= self.retry.max_attempts:
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise SourceError(source, dataset, problem + tries, transient=transient)
            backoff = min(
                self.retry.max_backoff_seconds, self.retry.backoff_seconds * 2 ** (attempt - 1)
            )
            delay = retry_after if retry_after is not None else random.uniform(0, backoff)
            budget = self.retry.max_total_wait_seconds
            if waited + delay > budget:
                problem += f"; waiting {delay:g}s more would exceed the {budget:g}s retry budget"
                raise SourceError(source, dataset, problem, transient=True)
            self.sleep(delay)
            waited += delay

    def _later_pages(
        self, source: str, dataset: str, url: str, first: requests.Response, total_pages: int
    ) -> Iterator[tuple[int, requests.Response, int]]:
        """(page, response, extra attempts) for every page, the first one already fetched."""
        yield 1, first, 0
        for page in range(2, total_pages + 1):
            response, tries = self._get(source, dataset, url, page, {"page": str(page)})
            yield page, response, tries

    def download(self, source: str, dataset: str, url: str, dest: Path) -> JsonArrayDownload:
        """Every page of the endpoint, validated, written to ``dest`` as one JSON array.

        Paging follows WordPress: ``X-WP-TotalPages`` says how many pages to ask for, and the
        row count is checked against ``X-WP-Total`` so a result is never silently truncated.
        The next page is fetched on a worker thread while the current one is written.
        Pages stream to ``dest``; groups of pages are validated by a columnar pass
        (:func:`count_json_objects`) on a worker thread while later pages download, and only
        when a pass objects is each page parsed with ``json`` to name the page and position of
        the problem.
        """
        response, attempts = self._get(source, dataset, url, 1, {})
        total_pages = _int_header(response, TOTAL_PAGES_HEADER, source, dataset) or 1
        expected_rows = _int_header(response, TOTAL_ROWS_HEADER, source, dataset)
        digest = hashlib.sha256()
        pages: list[tuple[int, int]] = []  # each page's elements: (start, end) offsets in dest
        with open(dest, "wb") as out, _GroupValidator(dest.parent) as groups:

            def write(chunk: bytes) -> None:
                out.write(chunk)
                digest.update(chunk)

            if total_pages == 1:
                write(response.content)
            else:
                write(b"[")
                wrote = False
                fetched = read_ahead(self._later_pages(source, dataset, url, response, total_pages))
                for page, page_response, tries in fetched:
                    attempts += tries
                    body = page_response.content
                    inner = _array_elements(body)
                    if inner is None:  # not an array at all: let the exact parser say what it is
                        parse_json_array(body, source, dataset, page)
                        raise SourceError(source, dataset, f"page {page} is not a JSON array")
                    if inner:
                        if wrote:
                            write(b",")
                        wrote = True
                        start = out.tell()
                        write(inner)
                        pages.append((start, out.tell()))
                        groups.add(inner)
                    else:
                        pages.append((out.tell(), out.tell()))
                write(b"]")
            out.flush()
            size = out.tell()
            rows = groups.total() if total_pages > 1 else count_json_objects(dest)
        if rows is None:
            rows = _validate_pages(dest, pages, source, dataset)
        if expected_rows is not None and rows != expected_rows:
            raise SourceError(
                source, dataset, f"got {rows} rows but the endpoint announced {expected_rows}"
            )
        return JsonArrayDownload(dest, rows, total_pages, size, digest.hexdigest(), attempts)


@dataclass
class _GroupValidator:
    """Counts the objects of downloaded pages, a group of pages at a time, on a worker thread.

    Each group is written to its own small JSON array file beside the download and counted by
    :func:`count_json_objects` while the next pages arrive, so validating overlaps the network
    wait instead of following it.
    """

    directory: Path
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1))
    _counts: list[Future[int | None]] = field(default_factory=list)
    _group: Any = None
    _size: int = 0

    def __enter__(self) -> _GroupValidator:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._group is not None:  # the download failed part way through a group
            self._group.close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for index in range(len(self._counts) + 1):  # groups never counted (a failed download)
            self._path(index).unlink(missing_ok=True)

    def _path(self, index: int) -> Path:
        return self.directory / f"validate-{index}.json"

    def add(self, elements: bytes) -> None:
        """One page's elements (what lies between its brackets, non-empty)."""
        if self._group is None:
            path = self._path(len(self._counts))
            self._group = open(path, "wb")  # noqa: SIM115 - closed by _submit or __exit__
            self._group.write(b"[")
            self._size = 0
        else:
            self._group.write(b",")
        self._group.write(elements)
        self._size += len(elements)
        if self._size >= VALIDATION_GROUP_BYTES:
            self._submit()

    def _submit(self) -> None:
        group, self._group = self._group, None
        group.write(b"]")
        group.close()
        self._counts.append(self._pool.submit(_count_and_remove, Path(group.name)))

    def total(self) -> int | None:
        """Objects in every page added, or None unless all of them are arrays of objects."""
        if self._group is not None:
            self._submit()
        counts = [future.result() for future in self._counts]
        return None if any(c is None for c in counts) else sum(c or 0 for c in counts)


def _count_and_remove(path: Path) -> int | None:
    try:
        return count_json_objects(path)
    finally:
        path.unlink(missing_ok=True)


def _array_elements(body: bytes) -> bytes | None:
    """What lies between a page's outer brackets (stripped), or None if it is not bracketed."""
    stripped = body.strip()
    if stripped[:1] != b"[" or stripped[-1:] != b"]":
        return None
    return stripped[1:-1].strip()


def count_json_objects(path: Path) -> int | None:
    """Objects in the JSON array at ``path``, or None unless it is an array of objects.

    One DuckDB pass (several times faster than ``json.loads`` and without building a Python
    object per value). None sends the caller to the exact, per-page ``json`` check, which says
    what is wrong and where; DuckDB's reader is used only to say "all good" quickly.
    """
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a dependency; stay correct without it
        return None
    literal = "'" + str(path).replace("'", "''") + "'"
    connection = duckdb.connect()
    try:
        found = connection.sql(
            "SELECT count(*), count_if(json_type(json) <> 'OBJECT') "
            f"FROM read_json_objects({literal}, format='array', hive_partitioning=false)"
        ).fetchall()
    except duckdb.Error:
        return None
    finally:
        connection.close()
    total, not_objects = found[0]
    return None if not_objects else int(total)


def _validate_pages(path: Path, pages: list[tuple[int, int]], source: str, dataset: str) -> int:
    """The exact check, page by page: raises naming the page, or returns the row count."""
    if not pages:
        return len(parse_json_array(path.read_bytes(), source, dataset))
    rows = 0
    with open(path, "rb") as handle:
        for page, (start, end) in enumerate(pages, start=1):
            handle.seek(start)
            rows += len(
                parse_json_array(b"[" + handle.read(end - start) + b"]", source, dataset, page)
            )
    return rows


def _int_header(response: requests.Response, name: str, source: str, dataset: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise SourceError(source, dataset, f"header {name} is not an integer") from None
    if number < 0:
        raise SourceError(source, dataset, f"header {name} is negative")
    return number
