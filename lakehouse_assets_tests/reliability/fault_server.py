"""A loopback HTTP server that misbehaves on request: bodies that drop mid-way or trickle in,
redirects, any status and header, and routes computed per request (a fake API with state).

Each path answers from a queue of replies (the last one repeats) or from a function of the
request; every request is recorded, so a test can say what reached the server and what did not.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lakehouse_assets_tests.http_fixtures import serving


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"[]"
    headers: dict[str, str] = field(default_factory=dict)
    #: Send this many body bytes, then close (Content-Length still announces the whole body).
    drop_after: int | None = None
    #: Send the body with chunked transfer encoding (a drop then leaves the last chunk out).
    chunked: bool = False
    #: Pause this long before each ``trickle_bytes`` of the body.
    trickle_seconds: float = 0.0
    trickle_bytes: int = 1
    #: Pause this long before answering at all.
    delay: float = 0.0
    #: Send this many body bytes, then wait for ``resume`` to be set (at most ``hold_seconds``)
    #: before the rest: a download held mid-body, for as long as a test needs.
    hold_after: int | None = None
    resume: threading.Event | None = None
    hold_seconds: float = 120.0


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def target(self) -> str:
        return self.path + (f"?{self._query}" if self._query else "")

    @property
    def _query(self) -> str:
        return "&".join(f"{k}={v}" for k, vs in self.query.items() for v in vs)


Route = Callable[[Received], Reply]


@dataclass
class FaultServer:
    base_url: str = ""
    port: int = 0
    script: dict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    routes: dict[str, Route] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def add(self, path: str, *replies: Reply) -> str:
        self.script[path].extend(replies)
        return f"{self.base_url}{path}"

    def route(self, path: str, route: Route) -> str:
        """Answer every request to ``path`` (or under it, if it ends with ``/``) with ``route``."""
        self.routes[path] = route
        return f"{self.base_url}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.received]

    def answer(self, request: Received) -> Reply:
        for prefix, route in self.routes.items():
            if request.path == prefix or (prefix.endswith("/") and request.path.startswith(prefix)):
                return route(request)
        queue = self.script.get(request.path)
        if not queue:
            return Reply(404, b'{"code":"rest_no_route"}')
        return queue.popleft() if len(queue) > 1 else queue[0]


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    state = FaultServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                self.command,
                parts.path,
                parse_qs(parts.query, keep_blank_values=True),
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            state.received.append(request)
            reply = state.answer(request)
            with suppress(BrokenPipeError, ConnectionResetError):
                self._send(reply)
            self.close_connection = True

        def _send(self, reply: Reply) -> None:
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(reply.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            body = reply.body if reply.drop_after is None else reply.body[: reply.drop_after]
            if reply.hold_after is not None:
                self._write(reply, body[: reply.hold_after])
                if reply.resume is not None:
                    reply.resume.wait(reply.hold_seconds)
                body = body[reply.hold_after :]
            self._write(reply, body)
            if reply.chunked and reply.drop_after is None:
                self.wfile.write(b"0\r\n\r\n")

        def _write(self, reply: Reply, body: bytes) -> None:
            step = reply.trickle_bytes if reply.trickle_seconds else max(1, len(body))
            for start in range(0, len(body), step):
                if reply.trickle_seconds:
                    time.sleep(reply.trickle_seconds)
                piece = body[start : start + step]
                if reply.chunked:
                    piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                self.wfile.write(piece)
                self.wfile.flush()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    with serving(Handler) as origin:
        state.port = int(origin.rsplit(":", 1)[1])
        state.base_url = f"http://127.0.0.1:{state.port}"
        yield state
