"""``describe_failure``: the readable cause of a Step Functions Catch."""

import json

import pytest
from avatar_pipeline.models import StepFailure
from avatar_pipeline.outcome import MAX_CAUSE_CHARS, describe_failure


def test_lambda_error_payload_yields_its_message() -> None:
    cause = json.dumps(
        {
            "errorMessage": "image s3://in/a.png is gif; wavespeed/omnihuman-1.5 accepts jpeg, png, webp",
            "errorType": "InvalidMedia",
            "requestId": "5e1f2c3a",
            "stackTrace": ['  File "/var/task/app.py", line 1'],
        }
    )
    failure = describe_failure(StepFailure(Error="InvalidMedia", Cause=cause))
    assert failure.Error == "InvalidMedia"
    assert failure.Cause == "image s3://in/a.png is gif; wavespeed/omnihuman-1.5 accepts jpeg, png, webp"


@pytest.mark.parametrize(
    "cause",
    [
        "States.Timeout: the task timed out",
        '{"not": "a lambda payload"}',
        '{"errorMessage": 42}',
        '["errorMessage"]',
        "42",
    ],
)
def test_other_causes_pass_through(cause: str) -> None:
    failure = describe_failure(StepFailure(Error="States.TaskFailed", Cause=cause))
    assert failure.Cause == cause
    assert failure.Error == "States.TaskFailed"


def test_cause_is_stripped() -> None:
    assert describe_failure(StepFailure(Error="X", Cause="  spaced out \n")).Cause == "spaced out"


@pytest.mark.parametrize("cause", [None, "", "   ", json.dumps({"errorMessage": "", "errorType": "JobTimedOut"})])
def test_empty_cause_is_filled(cause: str | None) -> None:
    failure = describe_failure(StepFailure(Error="JobTimedOut", Cause=cause))
    assert failure.Cause == "the step failed with JobTimedOut and no further detail"


def test_long_plain_cause_is_truncated() -> None:
    failure = describe_failure(StepFailure(Error="ProviderTaskFailed", Cause="x" * 5000))
    assert MAX_CAUSE_CHARS == 2000
    assert failure.Cause == "x" * 2000


def test_long_error_message_is_truncated() -> None:
    message = "provider said: " + "y" * 3000
    failure = describe_failure(StepFailure(Error="ProviderRejected", Cause=json.dumps({"errorMessage": message})))
    assert failure.Cause == message[:2000]
