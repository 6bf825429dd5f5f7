"""A callback receiver on 127.0.0.1 for tests: records every POST and answers the statuses it is told to."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    at: float
    """``time.time()`` when it arrived."""
    answered: int


class Receiver:
    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._answers: dict[str, deque[int]] = {}

    def answer(self, path: str, *statuses: int) -> None:
        """The next POSTs to ``path`` are answered with ``statuses`` in turn, the ones after with 200."""
        with self._lock:
            self._answers[path] = deque(statuses)

    def received(self, path: str) -> list[Received]:
        with self._lock:
            return [post for post in self._received if post.path == path]

    def wait(self, path: str, count: int, timeout: float = 15.0) -> list[Received]:
        """The first ``count`` POSTs to ``path``, once that many have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posts = self.received(path)
            if len(posts) >= count:
                return posts[:count]
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received(path))} of {count} callbacks arrived at {path}")

    def record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            pending = self._answers.get(path)
            status = pending.popleft() if pending else 200
            self._received.append(Received(path, headers, body, time.time(), status))
        return status


@contextmanager
def receive_callbacks() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_port}")
    server.receiver = receiver  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status = self.server.receiver.record(self.path, headers, body)  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass
