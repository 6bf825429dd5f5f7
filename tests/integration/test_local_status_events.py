"""The local stack puts Step Functions execution status-change events on the default bus, as AWS does, and
StopExecution keeps its error and cause: one rule sends every status change of the test's state machines to an
SQS queue."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.small_stack import SmallStack, running_stack

ROLE_ARN = "arn:aws:iam::123456789012:role/status-events-test"
DETAIL_TYPE = "Step Functions Execution Status Change"
DEFINITIONS = {
    "succeeds": {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}},
    "fails": {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}},
    "errs": {"StartAt": "Broken", "States": {"Broken": {"Type": "Pass", "InputPath": "$.missing", "End": True}}},
    "waits": {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}}},
    "times-out": {
        "StartAt": "Wait",
        "TimeoutSeconds": 1,
        "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}},
    },
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallStack]:
    with running_stack(tmp_path_factory.mktemp("status-events")) as running:
        yield running


def _state_machines(stack: SmallStack) -> dict[str, str]:
    sfn = stack.client("stepfunctions")
    suffix = uuid.uuid4().hex[:8]
    return {
        name: sfn.create_state_machine(name=f"{name}-{suffix}", definition=json.dumps(definition), roleArn=ROLE_ARN)[
            "stateMachineArn"
        ]
        for name, definition in DEFINITIONS.items()
    }


def _status_queue(stack: SmallStack, state_machine_arns: list[str]) -> str:
    sqs, events = stack.client("sqs"), stack.client("events")
    queue_url = sqs.create_queue(QueueName=f"status-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"status-{uuid.uuid4().hex[:8]}"
    pattern = {
        "source": ["aws.states"],
        "detail-type": [DETAIL_TYPE],
        "detail": {"stateMachineArn": state_machine_arns},
    }
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return str(queue_url)


def _receive(stack: SmallStack, queue_url: str, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["SentTimestamp"]
        )
        for message in response.get("Messages", []):
            event = json.loads(message["Body"])
            event["sent_ms"] = int(message["Attributes"]["SentTimestamp"])
            received.append(event)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return received


def test_every_status_change_reaches_a_rule_target_with_the_execution_details(stack: SmallStack) -> None:
    sfn = stack.client("stepfunctions")
    machines = _state_machines(stack)
    queue_url = _status_queue(stack, list(machines.values()))
    executions = {
        name: sfn.start_execution(stateMachineArn=arn, input=json.dumps({"case": name}))["executionArn"]
        for name, arn in machines.items()
    }
    sfn.stop_execution(executionArn=executions["waits"], error="Cancelled", cause="the user cancelled the job")

    received = _receive(stack, queue_url, count=2 * len(executions))

    by_execution: dict[str, list[dict[str, Any]]] = {}
    for event in received:
        assert event["source"] == "aws.states"
        assert event["detail-type"] == DETAIL_TYPE
        assert event["resources"] == [event["detail"]["executionArn"]]
        by_execution.setdefault(event["detail"]["executionArn"], []).append(event["detail"])
    statuses = {name: [d["status"] for d in by_execution.get(arn, [])] for name, arn in executions.items()}
    assert statuses == {
        "succeeds": ["RUNNING", "SUCCEEDED"],
        "fails": ["RUNNING", "FAILED"],
        "errs": ["RUNNING", "FAILED"],
        "waits": ["RUNNING", "ABORTED"],
        "times-out": ["RUNNING", "TIMED_OUT"],
    }
    for name, arn in executions.items():
        running, ended = by_execution[arn]
        described = sfn.describe_execution(executionArn=arn)
        for detail in (running, ended):
            assert detail["executionArn"] == arn
            assert detail["stateMachineArn"] == machines[name]
            assert detail["name"] == described["name"]
            assert json.loads(detail["input"]) == {"case": name}
            assert detail["inputDetails"] == {"included": True}
            assert detail["startDate"] == int(described["startDate"].timestamp() * 1000)
        assert running["stopDate"] is None
        assert running["output"] is running["outputDetails"] is running["error"] is running["cause"] is None
        assert ended["stopDate"] >= ended["startDate"]
        assert ended["status"] == described["status"]
        assert ended["error"] == described.get("error")
        assert ended["cause"] == described.get("cause")

    succeeded = by_execution[executions["succeeds"]][1]
    assert json.loads(succeeded["output"]) == {"ok": True}
    assert succeeded["outputDetails"] == {"included": True}
    failed = by_execution[executions["fails"]][1]
    assert (failed["error"], failed["cause"], failed["output"]) == ("Boom", "it broke", None)
    assert by_execution[executions["errs"]][1]["error"] == "States.Runtime"
    aborted = by_execution[executions["waits"]][1]
    assert (aborted["error"], aborted["cause"]) == ("Cancelled", "the user cancelled the job")


def test_a_stopped_execution_keeps_the_error_and_cause_it_was_stopped_with(stack: SmallStack) -> None:
    sfn = stack.client("stepfunctions")
    arn = _state_machines(stack)["waits"]
    execution_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]

    stopped = sfn.stop_execution(executionArn=execution_arn, error="Cancelled", cause="no longer wanted")

    described = sfn.describe_execution(executionArn=execution_arn)
    assert described["status"] == "ABORTED"
    assert (described["error"], described["cause"]) == ("Cancelled", "no longer wanted")
    assert described["stopDate"] == stopped["stopDate"]
    deadline = time.monotonic() + 5
    while (history := sfn.get_execution_history(executionArn=execution_arn)["events"])[-1][
        "type"
    ] != "ExecutionAborted":
        assert time.monotonic() < deadline, history
        time.sleep(0.05)
    assert history[-1]["executionAbortedEventDetails"] == {"error": "Cancelled", "cause": "no longer wanted"}


def test_status_events_reach_their_target_promptly(stack: SmallStack) -> None:
    sfn = stack.client("stepfunctions")
    arn = _state_machines(stack)["succeeds"]
    queue_url = _status_queue(stack, [arn])
    for _ in range(5):
        sfn.start_execution(stateMachineArn=arn)

    ended = [e for e in _receive(stack, queue_url, count=10) if e["detail"]["status"] == "SUCCEEDED"]

    delays = sorted(e["sent_ms"] - e["detail"]["stopDate"] for e in ended)
    assert len(delays) == 5
    assert delays[-1] < 2000, delays
