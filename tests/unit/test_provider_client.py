"""The providers' HTTP client: one per container, each request bounded by the time left in its own invocation."""

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from avatar_pipeline.errors import ProviderRejected, ProviderThrottled, ProviderUnavailable
from avatar_pipeline.providers.classify import TaskMissing, classify
from avatar_pipeline.providers.http import LAMBDA_MARGIN_SECONDS, DeadlineClient, invocation_client


@dataclass
class Context:
    seconds_left: float

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds_left * 1000)


def in_own_context(test: Callable[[], Any]) -> Any:
    """Runs ``test`` as one invocation does, without leaking its deadline into other tests."""
    return contextvars.copy_context().run(test)


def test_invocations_share_the_containers_client() -> None:
    first = in_own_context(lambda: invocation_client(30, Context(600)))
    second = in_own_context(lambda: invocation_client(30, Context(10)))
    assert first is second
    assert not first.is_closed


@pytest.mark.parametrize(("seconds_left", "read"), [(600.0, 30.0), (20.0, 20.0 - LAMBDA_MARGIN_SECONDS)])
def test_each_request_ends_before_its_invocation(seconds_left: float, read: float) -> None:
    seen: list[dict[str, float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200)

    def invocation() -> None:
        invocation_client(30, Context(seconds_left))
        with DeadlineClient(read_seconds=30, transport=httpx.MockTransport(answer)) as client:
            client.get("https://provider.test/")

    in_own_context(invocation)
    assert seen[0]["read"] == pytest.approx(read, abs=0.01)


def test_no_request_is_sent_without_time_to_wait_for_its_answer() -> None:
    sent: list[httpx.Request] = []

    def invocation() -> None:
        invocation_client(30, Context(LAMBDA_MARGIN_SECONDS + 0.5))
        transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))
        with DeadlineClient(read_seconds=30, transport=transport) as client, pytest.raises(httpx.ConnectTimeout):
            client.get("https://provider.test/")

    in_own_context(invocation)
    assert sent == []


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, None, ProviderThrottled),
        (503, None, ProviderUnavailable),
        (408, None, ProviderUnavailable),
        (401, None, ProviderRejected),
        (404, None, TaskMissing),
        (400, None, ProviderRejected),
        (200, None, ProviderUnavailable),
        (400, 7, ProviderThrottled),
        (500, 8, ProviderRejected),
        (400, 9, ProviderRejected),
    ],
)
def test_classify_reads_the_documented_code_first_then_the_status(
    status: int, code: int | None, expected: type[Exception]
) -> None:
    table = {7: (ProviderThrottled, "slow down"), 8: (ProviderRejected, "refused")}
    assert classify(status, code, table)[0] is expected
