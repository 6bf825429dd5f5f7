"""The HTTP client providers are called with, and the transport failures every adapter maps the same way."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from ..errors import ProviderUnavailable

API_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)


def new_client() -> httpx.Client:
    return httpx.Client(timeout=API_TIMEOUT, follow_redirects=False, headers={"User-Agent": "avatar-pipeline/0.1"})


@contextlib.contextmanager
def transport_errors(provider: str, what: str) -> Iterator[None]:
    """Timeouts, refused or reset connections become ``ProviderUnavailable`` (retried by the state machine)."""
    try:
        yield
    except httpx.TimeoutException as error:
        raise ProviderUnavailable(f"{provider} {what} timed out ({type(error).__name__})") from error
    except httpx.TransportError as error:
        raise ProviderUnavailable(f"{provider} {what} failed: {type(error).__name__}: {error}") from error


def json_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
