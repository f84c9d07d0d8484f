"""A loopback HTTP proxy in front of moto that answers chosen AWS calls with errors.

A deployment pointed at it (``AWS_ENDPOINT_URL``) talks to moto through it unchanged, except
for calls a :class:`Fault` matches (by service, from the SigV4 credential scope, and optionally
the API action): those get the error AWS would send (503 SlowDown, 500 InternalError, an
AccessDeniedException …) for the next N matching calls or for a duration. Every call is recorded.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lakehouse_assets_tests.http_fixtures import serving

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass(frozen=True)
class Call:
    service: str
    action: str
    method: str
    path: str
    faulted: bool


@dataclass
class Fault:
    """Answer matching calls with ``status`` and ``body`` (N times, or until a deadline)."""

    service: str
    status: int
    body: bytes
    action: str | None = None
    times: int | None = None
    until: float | None = None  # time.monotonic() deadline
    content_type: str = "application/xml"
    path_prefix: str = "/"  # e.g. "/{bucket}/": only that S3 bucket

    def matches(self, service: str, action: str, path: str) -> bool:
        if service != self.service or (self.action is not None and action != self.action):
            return False
        if not path.startswith(self.path_prefix):
            return False
        if self.until is not None and time.monotonic() > self.until:
            return False
        return self.times is None or self.times > 0


def s3_error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>proxy</RequestId></Error>"
    ).encode()


def query_error(status: int, code: str, message: str) -> tuple[int, bytes]:
    """An error of a query-protocol service (SNS)."""
    return status, (
        f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code>"
        f"<Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
    ).encode()


def json_error(status: int, code: str, message: str) -> tuple[int, bytes]:
    """An error of a JSON-protocol service (SSM, Secrets Manager)."""
    return status, f'{{"__type": "{code}", "message": "{message}"}}'.encode()


@dataclass
class FaultProxy:
    upstream: str
    endpoint: str = ""
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(
        self,
        service: str,
        error: tuple[int, bytes],
        *,
        action: str | None = None,
        times: int | None = None,
        seconds: float | None = None,
        content_type: str = "application/xml",
        path_prefix: str = "/",
    ) -> Fault:
        until = time.monotonic() + seconds if seconds is not None else None
        fault = Fault(service, error[0], error[1], action, times, until, content_type, path_prefix)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def pick(self, service: str, action: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(service, action, path):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def of(self, service: str, action: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.service == service and action in (None, c.action)]


def _action(method: str, path: str, headers: Any, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    query = parse_qs(urlsplit(path).query)
    if "Action" in query:
        return query["Action"][0]
    if body[:7] == b"Action=":
        with suppress(Exception):
            return parse_qs(body.decode())["Action"][0]
    return method


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """The proxy on a free loopback port, forwarding to ``upstream`` (moto's endpoint)."""
    state = FaultProxy(upstream)
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            body = _read_body(self)
            scope = _SCOPE.search(self.headers.get("Authorization", ""))
            service = scope.group(1) if scope else "?"
            action = _action(self.command, self.path, self.headers, body)
            fault = state.pick(service, action, self.path)
            state.calls.append(Call(service, action, self.command, self.path, fault is not None))
            if fault is not None:
                self._reply(fault.status, [("Content-Type", fault.content_type)], fault.body)
                return
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                headers["Host"] = self.headers.get("Host", target.netloc)
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                data = response.read()
                head = self.command == "HEAD"
                kept = [
                    (k, v)
                    for k, v in response.getheaders()
                    if k.lower() not in HOP_HEADERS or (head and k.lower() == "content-length")
                ]
                self._reply(response.status, kept, data, head=head)
            finally:
                connection.close()

        def _reply(
            self, status: int, headers: list[tuple[str, str]], data: bytes, head: bool = False
        ) -> None:
            with suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                if not head or not any(k.lower() == "content-length" for k, _ in headers):
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    with serving(Handler) as origin:
        state.endpoint = origin
        yield state
