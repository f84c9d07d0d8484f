"""Serve packaged sample sites to ``requests`` without a network.

The sample sources answer at hosts under the reserved ``.invalid`` domain (RFC 2606), which never
resolves, so a sample URL can never reach a real server. The client code path is the real one:
the same ``requests.Session``, status handling, headers, paging and JSON parsing; only the
transport under the session differs.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


class SiteResponder(Protocol):
    def respond(
        self, path: str, query: Mapping[str, list[str]]
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a GET of ``path``."""
        ...


class SampleSiteAdapter(BaseAdapter):
    """A ``requests`` transport adapter answering GETs from an in-process site.

    Given a factory, the site is built on the first request only: a run whose endpoints are
    all real never pays for generating the sample.
    """

    def __init__(self, site: SiteResponder | Callable[[], SiteResponder]):
        super().__init__()
        self._site = site

    @property
    def site(self) -> SiteResponder:
        if callable(self._site):
            self._site = self._site()
        return self._site

    def send(  # the transport options (timeout, verify, proxies) do not apply in-process
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        if request.method != "GET":
            status, headers, body = 405, {"Content-Type": "text/plain"}, b"method not allowed"
        else:
            status, headers, body = self.site.respond(parts.path, parse_qs(parts.query))
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        # A body to read, as a real transport gives: streamed reads and close() both work.
        response.raw = io.BytesIO(body)
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        return None
