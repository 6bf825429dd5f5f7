"""The HTTP client providers (and downloads) are called with, one per container, bounded by the invocation's time.

The client is made once per container and kept, so warm invocations reuse its connection pool; each invocation
binds its own time left (``invocation_client``), which every request's timeout must end before.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol

import httpx

from ..errors import ProviderUnavailable
from ..observability import tracer
from ..settings import DEFAULT_TIMEOUT_SECONDS
from .classify import SubmitOutcomeUnknown

CONNECT_TIMEOUT_SECONDS = 5.0
# Time kept back from the Lambda's own timeout, so a call that times out still leaves the handler time to
# record what happened (an unanswered create must be recorded as such, never cut off by the Lambda's timeout).
LAMBDA_MARGIN_SECONDS = 5.0
# Failures that prove the request never reached the provider: retrying cannot create a second task.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError, httpx.WriteTimeout)

# Before DeadlineClient subclasses httpx.Client: X-Ray's patch replaces httpx.Client with its traced subclass.
tracer.patch(["httpx"])

RemainingSeconds = Callable[[], float]
# Per invocation (a context variable, so handlers run side by side in one process never share a deadline).
_REMAINING: ContextVar[RemainingSeconds | None] = ContextVar("remaining_seconds", default=None)


class InvocationContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def time_left(context: InvocationContext) -> RemainingSeconds:
    """Seconds left in this Lambda invocation, asked afresh at each call."""
    return lambda: context.get_remaining_time_in_millis() / 1000


class DeadlineClient(httpx.Client):
    """Every request's timeout ends before the Lambda's: ``min(read timeout, time left - margin)``."""

    def __init__(self, *, read_seconds: float, **kwargs: Any) -> None:
        timeout = httpx.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=read_seconds, write=read_seconds, pool=5.0)
        super().__init__(timeout=timeout, follow_redirects=False, **kwargs)
        self.read_seconds = read_seconds

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        remaining = _REMAINING.get()
        if remaining is not None:
            left = remaining() - LAMBDA_MARGIN_SECONDS
            if left < 1.0:
                raise httpx.ConnectTimeout("no time left in this invocation to wait for an answer", request=request)
            read = min(self.read_seconds, left)
            connect = min(CONNECT_TIMEOUT_SECONDS, read)
            request.extensions["timeout"] = httpx.Timeout(
                connect=connect, read=read, write=read, pool=connect
            ).as_dict()
        return super().send(request, **kwargs)


@functools.cache
def container_client(read_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> httpx.Client:
    """The container's client for this read timeout, made on first use and kept open for later invocations."""
    return DeadlineClient(read_seconds=read_seconds, headers={"User-Agent": "avatar-pipeline/0.1"})


def invocation_client(read_seconds: float, context: InvocationContext) -> httpx.Client:
    """The container's client, with this invocation's time left bounding each request made in it."""
    _REMAINING.set(time_left(context))
    return container_client(read_seconds)


@contextlib.contextmanager
def transport_errors(provider: str, what: str, *, creates_task: bool = False) -> Iterator[None]:
    """Timeouts, refused or reset connections become ``ProviderUnavailable`` (retried by the state machine).

    Except for a request that creates a paid task and may have reached the provider (no answer, or a reset
    after sending): that is ``SubmitOutcomeUnknown``, which the submission core resolves without paying twice.
    """
    try:
        yield
    except (httpx.TimeoutException, httpx.TransportError) as error:
        if creates_task and not isinstance(error, NOT_SENT):
            raise SubmitOutcomeUnknown(
                f"{provider} did not answer the {what} ({type(error).__name__}); it may have created the task"
            ) from error
        if isinstance(error, httpx.TimeoutException):
            raise ProviderUnavailable(f"{provider} {what} timed out ({type(error).__name__})") from error
        raise ProviderUnavailable(f"{provider} {what} failed: {type(error).__name__}") from error
