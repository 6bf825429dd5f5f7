"""The local Lambda service fails as Lambda does: an invocation it refuses is a 500 ServiceException, which a Lambda
task sees as ``Lambda.ServiceException`` (the name a Retry names); and workers still start when the stack holds
more than 1024 file descriptors (a thousand executions at once)."""

from __future__ import annotations

import json
import resource
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from avatar_local.lambda_runtime import CRASH_TAG, LocalFunction, LocalLambdaRuntime, runtime_environment

from tests.integration.small_stack import SmallStack, running_stack

ROLE_ARN = "arn:aws:iam::123456789012:role/lambda-errors-test"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallStack]:
    with running_stack(tmp_path_factory.mktemp("lambda-errors")) as running:
        yield running


def _run(stack: SmallStack, retry: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Runs one Lambda task on the sleeper, refused once by the Lambda service; the execution and its task errors."""
    sfn, lambda_client = stack.client("stepfunctions"), stack.client("lambda")
    function = lambda_client.get_function(FunctionName=stack.function_name("SleeperFunction"))["Configuration"]
    task = {"Type": "Task", "Resource": function["FunctionArn"], "End": True, "Retry": retry}
    definition = {"StartAt": "Sleep", "States": {"Sleep": task}}
    machine = sfn.create_state_machine(
        name=f"refused-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE_ARN
    )["stateMachineArn"]
    lambda_client.tag_resource(Resource=function["FunctionArn"], Tags={CRASH_TAG: "refused x1"})
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"seconds": 0}))["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.2)
    history = sfn.get_execution_history(executionArn=execution)["events"]
    errors = [e["lambdaFunctionFailedEventDetails"]["error"] for e in history if e["type"] == "LambdaFunctionFailed"]
    return described, errors


def test_a_refused_invocation_is_retried_by_a_retry_on_lambda_service_exception(stack: SmallStack) -> None:
    retry = [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1, "MaxAttempts": 2}]
    described, errors = _run(stack, retry)
    assert described["status"] == "SUCCEEDED", described
    assert errors == ["Lambda.ServiceException"]


def test_a_refused_invocation_without_a_retry_fails_the_task_with_its_name(stack: SmallStack) -> None:
    described, errors = _run(stack, [])
    assert described["status"] == "FAILED"
    assert described["error"] == "Lambda.ServiceException"
    assert errors == ["Lambda.ServiceException"]


def test_a_worker_starts_when_more_than_1024_descriptors_are_open(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard limit of open files is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return {'echo': event}\n")
    function = LocalFunction("echo", code, "app.handler", {}, 128, ())
    held = [(tmp_path / "held").open("w") for _ in range(1100)]
    runtime = LocalLambdaRuntime(
        [function], runtime_environment("http://127.0.0.1:1", "us-east-1", "a", "b"), tmp_path / "log"
    )
    try:
        assert max(handle.fileno() for handle in held) > 1024
        assert runtime.pools["echo"].invoke({"n": 1}, 10) == {"echo": {"n": 1}}
    finally:
        runtime.shutdown()
        for handle in held:
            handle.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
