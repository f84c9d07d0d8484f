"""A scripted HTTP server on loopback: each path answers from a queue of canned responses."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Scripted:
    status: int = 200
    body: bytes = b"[]"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class ScriptedServer:
    base_url: str = ""
    script: dict[str, deque[Scripted]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[str] = field(default_factory=list)

    def add(self, path: str, *responses: Scripted) -> str:
        self.script[path].extend(responses)
        return f"{self.base_url}{path}"


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free loopback port (daemon threads, so a hung client cannot hold
    the test); yields the origin, ``http://127.0.0.1:PORT``, and stops the server on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    state = ScriptedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            queue = state.script.get(urlsplit(self.path).path)
            answer = queue.popleft() if queue and len(queue) > 1 else (queue[0] if queue else None)
            if answer is None:
                answer = Scripted(404, b'{"code":"rest_no_route"}')
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    with serving(Handler) as origin:
        state.base_url = origin
        yield state
