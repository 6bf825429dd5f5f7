"""The HTTP client providers are called with, and the transport failures every adapter maps the same way."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from ..errors import JobTimedOut, ProviderUnavailable
from ..settings import int_env

DEFAULT_TIMEOUT_SECONDS = 30
# Failures that prove the request never reached the provider: retrying cannot create a second task.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError, httpx.WriteTimeout)


def new_client() -> httpx.Client:
    read = float(int_env("PROVIDER_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))
    timeout = httpx.Timeout(connect=5.0, read=read, write=read, pool=5.0)
    return httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "avatar-pipeline/0.1"})


@contextlib.contextmanager
def transport_errors(provider: str, what: str, *, creates_task: bool = False) -> Iterator[None]:
    """Timeouts, refused or reset connections become ``ProviderUnavailable`` (retried by the state machine).

    Except for a request that creates a paid task and may have reached the provider (no answer, or a reset
    after sending): retrying could pay twice and the provider offers no way to find the task, so the job
    ends in ``JobTimedOut`` saying so.
    """
    try:
        yield
    except (httpx.TimeoutException, httpx.TransportError) as error:
        if creates_task and not isinstance(error, NOT_SENT):
            raise JobTimedOut(
                f"{provider} did not answer the {what} ({type(error).__name__}); it may have accepted the task, "
                "so it was not submitted again (no double billing). Check the provider's console, or run the "
                "job again with a new job_id."
            ) from error
        if isinstance(error, httpx.TimeoutException):
            raise ProviderUnavailable(f"{provider} {what} timed out ({type(error).__name__})") from error
        raise ProviderUnavailable(f"{provider} {what} failed: {type(error).__name__}: {error}") from error


def json_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
