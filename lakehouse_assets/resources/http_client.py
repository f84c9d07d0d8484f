"""The one way the platform makes an HTTP request: bounded retries, redirects under the URL
policy, and a deadline per request.

``requests`` alone follows redirects to any host, reports a body that drops mid-way as a
permanent error and bounds only each socket read (a trickling body can hold a run for ever);
urllib3's ``Retry`` sees neither the body nor the redirect target's policy. So the session is
called with ``allow_redirects=False`` and the body is read here, a chunk at a time.
Errors name the source, dataset and page, never the URL (it may carry a secret).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urljoin

import requests
import urllib3
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from lakehouse_assets.errors import SourceError
from lakehouse_assets.observe.usage import count_http
from lakehouse_assets.resources.url_policy import hop_problem, origin

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Largest piece read from a body at once; each read returns what has arrived, so the
#: deadline is checked at least once per socket read.
BODY_CHUNK_BYTES = 1 << 20

Clock = Callable[[], float]


@dataclass(frozen=True)
class RetrySettings:
    """Exponential backoff with full jitter; every wait counts against one bounded budget."""

    max_attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    max_total_wait_seconds: float = 120.0


@dataclass(frozen=True)
class Deadline:
    """An instant (on the client's monotonic clock) by which a whole paged download must end."""

    seconds: float
    at: float

    @classmethod
    def after(cls, seconds: float, clock: Clock = time.monotonic) -> Deadline:
        return cls(seconds, clock() + seconds)


class _RedirectRefusedError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _DeadlineExceededError(Exception):
    pass


def retry_after_seconds(response: requests.Response, now: Clock = time.time) -> float | None:
    """The wait ``Retry-After`` asks for (seconds or an HTTP date), or None when it is absent
    or unparseable (the caller then backs off exponentially)."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": UTC by RFC 5322
        parsed = parsed.replace(tzinfo=UTC)
    return max(0.0, parsed.timestamp() - now())


def status_error(
    source: str, dataset: str, response: requests.Response, page: int = 1, label: str | None = None
) -> SourceError:
    """The error for an answer that is not HTTP 200 (transient for 429 and 5xx)."""
    status = response.status_code
    where = label or f"page {page}"
    return SourceError(
        source, dataset, f"HTTP {status} on {where}", transient=status in RETRYABLE_STATUSES
    )


def require_ok(
    response: requests.Response, source: str, dataset: str, page: int = 1, label: str | None = None
) -> requests.Response:
    """``response`` if its status is 200, else a SourceError naming the status and page."""
    if response.status_code != 200:
        raise status_error(source, dataset, response, page, label)
    return response


def parse_json(body: bytes, source: str, dataset: str, page: int = 1) -> Any:
    """The body as JSON, or a SourceError saying where it is broken (and if it looks like HTML)."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = ""
        if isinstance(exc, json.JSONDecodeError):
            position = f" at line {exc.lineno} column {exc.colno}"
        looks_html = body.lstrip()[:1] == b"<"
        hint = " (looks like an HTML page)" if looks_html else ""
        problem = f"page {page} is not valid JSON{position}{hint}"
    raise SourceError(source, dataset, problem)


class HttpClient:
    """Sends requests on one session: transient faults retried, redirects checked hop by hop,
    each request held to a deadline.

    ``attempts`` counts the HTTP attempts made (redirect hops excluded), for run metadata.
    """

    def __init__(
        self,
        session: requests.Session,
        *,
        timeout_seconds: float = 30.0,
        retry: RetrySettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        allowed_hosts: Iterable[str] = (),
        max_redirects: int = 5,
        request_deadline_seconds: float = 120.0,
        clock: Clock = time.monotonic,
    ):
        self.session = session
        self.timeout_seconds = timeout_seconds
        self.retry = retry or RetrySettings()
        self.sleep = sleep
        self.allowed_hosts = tuple(allowed_hosts)
        self.max_redirects = max_redirects
        self.request_deadline_seconds = request_deadline_seconds
        self.clock = clock
        self.attempts = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(timeout_seconds={self.timeout_seconds:g})"

    def send(
        self,
        source: str,
        dataset: str,
        method: str,
        url: str,
        *,
        page: int = 1,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | bytes | None = None,
        auth: requests.auth.AuthBase | tuple[str, str] | None = None,
        deadline: Deadline | None = None,
        label: str | None = None,
    ) -> requests.Response:
        """The final response, its body read, for any status but a transient one.

        Timeouts, dropped connections (also mid-body), 429 and 5xx are retried with backoff
        (429/503 wait ``Retry-After`` when it parses), within ``retry``'s attempts and wait
        budget; then a transient SourceError, carrying the server's wait if it asked for one.
        A request that outlasts its deadline (``request_deadline_seconds``, or what is left of
        ``deadline``) fails at once, transient. Redirects are followed only where
        :func:`hop_problem` allows. ``label`` replaces "page N" in messages.
        """
        where = label or f"page {page}"
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            count_http(source, dataset)
            limit_at = self.clock() + self.request_deadline_seconds
            exceeded = f"exceeded the {self.request_deadline_seconds:g}s request deadline"
            if deadline is not None and deadline.at <= limit_at:
                limit_at = deadline.at
                exceeded = f"exceeded the {deadline.seconds:g}s download deadline"
            exceeded += f" on {where}"
            retry_after: float | None = None
            try:
                response = self._attempt(method, url, params, headers, data, auth, limit_at)
            except _RedirectRefusedError as refused:
                problem = f"redirect refused on {where}: {refused.reason}"
                raise SourceError(source, dataset, problem) from None
            except _DeadlineExceededError:
                raise SourceError(source, dataset, exceeded, transient=True) from None
            except (requests.Timeout, ReadTimeoutError):
                if self.clock() >= limit_at:
                    raise SourceError(source, dataset, exceeded, transient=True) from None
                problem = f"timed out after {self.timeout_seconds:g}s on {where}"
            except (
                requests.exceptions.ChunkedEncodingError,
                ProtocolError,
                http.client.HTTPException,
            ):
                problem = f"connection dropped while reading {where}"
            except requests.ConnectionError:
                problem = f"connection failed on {where}"
            except (requests.RequestException, DecodeError) as exc:
                problem = f"request failed on {where} ({type(exc).__name__})"
                raise SourceError(source, dataset, problem) from None
            else:
                if response.status_code not in RETRYABLE_STATUSES:
                    count_http(source, dataset, len(response.content), requests=0)
                    return response
                problem = f"HTTP {response.status_code} on {where}"
                retry_after = retry_after_seconds(response)
            if attempt >= self.retry.max_attempts:
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise SourceError(
                    source,
                    dataset,
                    problem + tries,
                    transient=True,
                    retry_after_seconds=retry_after,
                )
            backoff = min(
                self.retry.max_backoff_seconds, self.retry.backoff_seconds * 2 ** (attempt - 1)
            )
            delay = retry_after if retry_after is not None else random.uniform(0, backoff)
            budget = self.retry.max_total_wait_seconds
            if waited + delay > budget:
                problem += f"; waiting {delay:g}s more would exceed the {budget:g}s retry budget"
                raise SourceError(
                    source, dataset, problem, transient=True, retry_after_seconds=retry_after
                )
            if deadline is not None and self.clock() + delay >= deadline.at:
                problem += (
                    f"; waiting {delay:g}s more would pass the {deadline.seconds:g}s download"
                    " deadline"
                )
                raise SourceError(
                    source, dataset, problem, transient=True, retry_after_seconds=retry_after
                )
            self.sleep(delay)
            waited += delay

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | bytes | None,
        auth: requests.auth.AuthBase | tuple[str, str] | None,
        limit_at: float,
    ) -> requests.Response:
        """One attempt: the request and each redirect hop, then the body (within ``limit_at``).

        A transient status comes back unread; the connection is closed either way.
        """
        current = url
        hops = 0
        while True:
            remaining = limit_at - self.clock()
            if remaining <= 0:
                raise _DeadlineExceededError
            response = self.session.request(
                method,
                current,
                params=params,
                headers=headers,
                data=data,
                auth=auth,
                timeout=(self.timeout_seconds, min(self.timeout_seconds, remaining)),
                stream=True,
                allow_redirects=False,
            )
            location = response.headers.get("Location")
            if response.status_code in REDIRECT_STATUSES and location:
                here = response.url or current
                response.close()
                target = urljoin(here, location)
                hops += 1
                if hops > self.max_redirects:
                    raise _RedirectRefusedError(f"more than {self.max_redirects} redirects")
                problem = hop_problem(here, target, allowed_hosts=self.allowed_hosts)
                if problem is not None:
                    raise _RedirectRefusedError(problem)
                if origin(target) != origin(here):  # an allow-listed host: no credentials
                    auth = None
                    headers = {
                        k: v for k, v in (headers or {}).items() if k.lower() != "authorization"
                    }
                if response.status_code == 303 or (
                    response.status_code in (301, 302) and method == "POST"
                ):
                    method, data = "GET", None
                current, params = target, None
                continue
            try:
                if response.status_code not in RETRYABLE_STATUSES:
                    self._read_body(response, limit_at)
            finally:
                response.close()
            return response

    def _read_body(self, response: requests.Response, limit_at: float) -> None:
        """Reads the body into the response, checking the deadline between reads."""
        raw = response.raw
        chunks: list[bytes] = []
        while True:
            if self.clock() >= limit_at:
                raise _DeadlineExceededError
            if isinstance(raw, urllib3.HTTPResponse):
                chunk = raw.read1(BODY_CHUNK_BYTES, decode_content=True)
            else:  # an in-process transport (packaged samples)
                chunk = raw.read(BODY_CHUNK_BYTES)
            if not chunk:
                break
            chunks.append(chunk)
        response._content = b"".join(chunks)
