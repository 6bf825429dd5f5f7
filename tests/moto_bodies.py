"""moto's in-process mock hands a request's body to werkzeug, which takes bytes but not a bytearray; botocore and S3
take both, and a copy sends its part buffers as they are. Over HTTP (the local stack's moto server) a body arrives
as bytes whatever it was, so only the in-process mock needs this."""

from __future__ import annotations

from typing import Any

from moto.core.request import Request

PLAIN_FROM_PRIMITIVES = Request.from_primitives.__func__  # type: ignore[attr-defined]


def from_primitives(cls: type[Request], method: str, url: str, headers: Any, body: Any = None) -> Any:
    return PLAIN_FROM_PRIMITIVES(cls, method, url, headers, bytes(body) if isinstance(body, bytearray) else body)
