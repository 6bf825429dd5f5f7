"""The HTTP client providers are called with, and the transport failures every adapter maps the same way."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx

from ..errors import ProviderUnavailable
from .base import SubmitOutcomeUnknown

DEFAULT_TIMEOUT_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 5.0
# Time kept back from the Lambda's own timeout, so a call that times out still leaves the handler time to
# record what happened (an unanswered create must be recorded as such, never cut off by the Lambda's timeout).
LAMBDA_MARGIN_SECONDS = 5.0
# Failures that prove the request never reached the provider: retrying cannot create a second task.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError, httpx.WriteTimeout)
# Answers to a create that do not say whether the task was created: a gateway that lost the upstream's answer
# (502, 504), a timeout or conflict reported while the request may be processed (408, 409).
AMBIGUOUS_CREATE_STATUSES = frozenset({408, 409, 502, 504})

RemainingSeconds = Callable[[], float]


class InvocationContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def time_left(context: InvocationContext) -> RemainingSeconds:
    """Seconds left in this Lambda invocation, asked afresh at each call."""
    return lambda: context.get_remaining_time_in_millis() / 1000


class DeadlineClient(httpx.Client):
    """Every request's timeout ends before the Lambda's: ``min(read timeout, time left - margin)``."""

    def __init__(self, *, read_seconds: float, remaining: RemainingSeconds | None, **kwargs: Any) -> None:
        timeout = httpx.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=read_seconds, write=read_seconds, pool=5.0)
        super().__init__(timeout=timeout, follow_redirects=False, **kwargs)
        self.read_seconds = read_seconds
        self.remaining = remaining

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if self.remaining is not None:
            left = self.remaining() - LAMBDA_MARGIN_SECONDS
            if left < 1.0:
                raise httpx.ConnectTimeout("no time left in this invocation to wait for an answer", request=request)
            read = min(self.read_seconds, left)
            connect = min(CONNECT_TIMEOUT_SECONDS, read)
            request.extensions["timeout"] = httpx.Timeout(
                connect=connect, read=read, write=read, pool=connect
            ).as_dict()
        return super().send(request, **kwargs)


def new_client(
    read_seconds: float = DEFAULT_TIMEOUT_SECONDS, remaining: RemainingSeconds | None = None
) -> httpx.Client:
    return DeadlineClient(read_seconds=read_seconds, remaining=remaining, headers={"User-Agent": "avatar-pipeline/0.1"})


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


def check_create_answer(provider: str, what: str, response: httpx.Response, *, readable: bool) -> None:
    """Raises ``SubmitOutcomeUnknown`` when a create's answer does not tell whether a task was created.

    ``readable``: the body is the provider's own envelope. A provider that answered in its own words did not
    create the task (it said why); a gateway page or an empty body in front of a 5xx says nothing.
    """
    status = response.status_code
    if status in AMBIGUOUS_CREATE_STATUSES or (status >= 500 and status != 503 and not readable):
        raise SubmitOutcomeUnknown(f"{provider} answered the {what} with HTTP {status}; it may have created the task")


def json_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
