"""Serve packaged sample sites to ``requests`` without a network, or over real HTTP on loopback.

The sample sources answer at hosts under the reserved ``.invalid`` domain (RFC 2606), which never
resolves, so a sample URL can never reach a real server. The client code path is the real one:
the same ``requests.Session``, status handling, headers, paging and JSON parsing; only the
transport under the session differs.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


#: A sample's answer: status, headers, body.
Answer = tuple[int, dict[str, str], bytes]


class SampleService(Protocol):
    def handle(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """The answer to any request (samples that need methods, headers or bodies)."""
        ...


def _response(request: requests.PreparedRequest, answer: Answer) -> requests.Response:
    status, headers, body = answer
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(headers)
    # A body to read, as a real transport gives: streamed reads and close() both work.
    response.raw = io.BytesIO(body)
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


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
            answer: Answer = (405, {"Content-Type": "text/plain"}, b"method not allowed")
        else:
            answer = self.site.respond(parts.path, parse_qs(parts.query))
        return _response(request, answer)

    def close(self) -> None:
        return None


class SampleServiceAdapter(BaseAdapter):
    """A ``requests`` transport adapter for a :class:`SampleService` (any method, headers and
    body); given a factory, the service is built on the first request only."""

    def __init__(self, service: SampleService | Callable[[], SampleService]):
        super().__init__()
        self._service = service

    @property
    def service(self) -> SampleService:
        if not hasattr(self._service, "handle"):
            self._service = self._service()
        return self._service

    def send(  # the transport options (timeout, verify, proxies) do not apply in-process
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        answer = self.service.handle(
            request.method or "GET", request.url or "", request.headers, bytes(body)
        )
        return _response(request, answer)

    def close(self) -> None:
        return None


#: What a served sample answers: (method, URL with the Host it was asked at, headers, body).
Handle = Callable[[str, str, Mapping[str, str], bytes], Answer]


def site_handle(site: SiteResponder) -> Handle:
    """A GET-only site as a :data:`Handle`."""

    def handle(method: str, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        if method != "GET":
            return 405, {"Content-Type": "text/plain"}, b"method not allowed"
        parts = urlsplit(url)
        return site.respond(parts.path, parse_qs(parts.query))

    return handle


@contextmanager
def serve_sample(handle: Handle, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve a sample over real HTTP on loopback; yields its origin (``http://host:port``),
    stops on exit."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            origin = f"http://{self.headers.get('Host') or host}"
            status, headers, content = handle(
                self.command, f"{origin}{self.path}", dict(self.headers.items()), body
            )
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
