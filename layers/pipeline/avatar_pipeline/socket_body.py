"""An uncoded HTTP/1.1 body of declared length, read from the connection's socket straight into the copy's parts.

Through httpx a body arrives in 64 KiB ``bytes`` objects, each copied three times on its way through h11, and the
copy then copied each one into its part buffer: the reading thread was the copy's bottleneck, at about 0.8 s of
CPU per GiB. Here the bytes h11 already holds come first, as the first ``Data`` event (one event takes all it has
buffered), and the rest is read with ``recv_into`` into the part buffer itself: one copy, out of the kernel.

h11 then still counts the body as unread, so httpx closes the connection rather than reuse it (downloads ask for
``Connection: close`` anyway). Where the socket does not carry the body's bytes as they are, the body is read
through httpx: a response built in memory (test transports), HTTP/2, and TLS inside TLS (an HTTPS proxy), whose
socket carries the outer layer.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import httpx

HTTP1 = ("HTTP/1.1", "HTTP/1.0")


class SocketBody:
    """``length`` bytes: the first chunk of ``chunks`` (what the HTTP parser had buffered), then what ``sock``
    receives. ``chunks`` is kept after its first chunk, not read on: closing it would close the connection."""

    def __init__(self, chunks: Iterator[bytes], sock: socket.socket, length: int, read_timeout: float | None) -> None:
        self.length = length
        self._chunks = chunks
        self._first: memoryview | None = None
        self._sock = sock
        self._read_timeout = read_timeout

    def readinto(self, view: memoryview) -> int:
        """Writes up to ``len(view)`` bytes of the body into ``view``; how many, 0 once the connection has ended.
        A wait longer than the read timeout raises ``httpx.ReadTimeout``, a failed read ``httpx.ReadError``, as
        reading through httpx would."""
        if self._first is None:
            self._first = memoryview(next(self._chunks, b""))
            self._sock.settimeout(self._read_timeout)
        if self._first:
            count = min(len(view), len(self._first))
            view[:count] = self._first[:count]
            self._first = self._first[count:]
            return count
        try:
            return self._sock.recv_into(view)
        except TimeoutError as error:
            raise httpx.ReadTimeout(f"no byte of the body for {self._sock.gettimeout()} s") from error
        except OSError as error:
            raise httpx.ReadError(f"{type(error).__name__}: {error}") from error


def socket_body(response: httpx.Response, length: int) -> SocketBody | None:
    """The body of ``response`` (not coded, ``length`` bytes declared) read from its socket, or ``None`` where it must
    be read through httpx. Each wait is bounded by the read timeout httpx was given for the request (a
    ``DeadlineClient`` shortens it near the end of the invocation). Nothing else may read the body once it is made."""
    sock = _body_socket(response)
    if sock is None:
        return None
    read_timeout: float | None = response.request.extensions.get("timeout", {}).get("read")
    return SocketBody(response.iter_raw(), sock, length, read_timeout)


def _body_socket(response: httpx.Response) -> socket.socket | None:
    stream = response.extensions.get("network_stream")
    # A Transfer-Encoding frames the body itself (and overrides Content-Length): only h11 may read it.
    if stream is None or response.http_version not in HTTP1 or "transfer-encoding" in response.headers:
        return None
    sock = stream.get_extra_info("socket")
    # TLS inside TLS keeps its inner session in an ssl.SSLObject, and its socket carries the outer layer.
    if not isinstance(sock, socket.socket) or isinstance(stream.get_extra_info("ssl_object"), ssl.SSLObject):
        return None
    if isinstance(sock, ssl.SSLSocket) != (response.url.scheme == "https"):
        return None
    return sock
