"""Every local Lambda invocation runs under the function's current Timeout, as on AWS: UpdateFunctionConfiguration
applies to the next invocation, and the handler's context counts down from it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.small_stack import SmallStack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallStack]:
    with running_stack(tmp_path_factory.mktemp("lambda-timeout")) as running:
        yield running


def _invoke(stack: SmallStack, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    response = stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(response["Payload"].read()), "FunctionError" in response


def test_a_shorter_timeout_applies_to_the_next_invocation(stack: SmallStack) -> None:
    lambda_client = stack.client("lambda")
    name = stack.function_name("SleeperFunction")
    before, failed = _invoke(stack, name, {"seconds": 0})
    assert not failed
    assert 9_000 < before["remaining_ms"] <= 10_000  # the template's Timeout: 10

    lambda_client.update_function_configuration(FunctionName=name, Timeout=1)
    try:
        shortened, failed = _invoke(stack, name, {"seconds": 0})
        assert not failed
        assert 0 < shortened["remaining_ms"] <= 1_000

        started = time.monotonic()
        timed_out, failed = _invoke(stack, name, {"seconds": 5})
        elapsed = time.monotonic() - started
        assert failed
        assert timed_out["errorType"] == "Sandbox.Timedout"
        assert timed_out["errorMessage"] == "Task timed out after 1.00 seconds"
        assert 1 <= elapsed < 3

        after, failed = _invoke(stack, name, {"seconds": 0})  # a fresh worker takes the killed one's place
        assert not failed
        assert after["remaining_ms"] <= 1_000
    finally:
        lambda_client.update_function_configuration(FunctionName=name, Timeout=10)

    restored, failed = _invoke(stack, name, {"seconds": 0})
    assert not failed
    assert restored["remaining_ms"] > 9_000
