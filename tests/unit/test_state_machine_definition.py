"""Static checks of the ASL: every path ends somewhere explicit and only contract-retryable errors are retried."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from avatar_pipeline.errors import CONTRACT_ERROR_NAMES

ASL = json.loads((Path(__file__).resolve().parents[2] / "statemachine" / "avatar_video.asl.json").read_text())
STATES: dict[str, dict[str, Any]] = ASL["States"]
LAMBDA_PLATFORM_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Runtime.ExitError",
    "Sandbox.Timedout",
}
RETRYABLE_CONTRACT_ERRORS = {"ProviderThrottled", "ProviderUnavailable"}


def _targets(state: dict[str, Any]) -> set[str]:
    targets = {state["Next"]} if "Next" in state else set()
    targets |= {choice["Next"] for choice in state.get("Choices", [])}
    targets |= {catch["Next"] for catch in state.get("Catch", [])}
    if "Default" in state:
        targets.add(state["Default"])
    return targets


def test_is_jsonpath_with_a_timeout() -> None:
    assert ASL.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert 0 < ASL["TimeoutSeconds"] <= 86400


def test_every_state_is_reachable_and_every_transition_exists() -> None:
    reachable, frontier = set(), [ASL["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reachable:
            continue
        reachable.add(name)
        assert name in STATES, f"transition to missing state {name}"
        frontier.extend(_targets(STATES[name]))
    assert reachable == set(STATES)


def test_every_choice_has_a_default() -> None:
    for name, state in STATES.items():
        if state["Type"] == "Choice":
            assert "Default" in state, name


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if s["Type"] == "Task"])
def test_every_task_catches_everything(name: str) -> None:
    catches = STATES[name].get("Catch", [])
    assert any("States.ALL" in catch["ErrorEquals"] for catch in catches), name


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if s["Type"] == "Task"])
def test_only_retryable_errors_are_retried(name: str) -> None:
    for retrier in STATES[name].get("Retry", []):
        errors = set(retrier["ErrorEquals"])
        if name in ("RecordSuccess", "RecordFailure"):
            continue  # recording is idempotent and retried on anything
        assert errors <= RETRYABLE_CONTRACT_ERRORS | LAMBDA_PLATFORM_ERRORS, (name, errors)
        assert not errors & (set(CONTRACT_ERROR_NAMES) - RETRYABLE_CONTRACT_ERRORS), (name, errors)


def test_polling_loop_is_a_seconds_path_wait_bounded_by_check_status() -> None:
    wait = STATES["WaitForProvider"]
    assert wait["Type"] == "Wait"
    assert wait["SecondsPath"] == "$.task.next_wait_seconds"
    assert wait["Next"] == "CheckStatus"
    choice = STATES["IsGenerationDone"]
    assert {c["StringEquals"]: c["Next"] for c in choice["Choices"] if "StringEquals" in c} == {
        "succeeded": "PersistResult",
        "running": "WaitForProvider",
    }
    assert choice["Default"] not in ("WaitForProvider", "WaitForCallback")
    assert STATES["Submit"]["Next"] == "IsGenerationDone"


def test_a_callback_wait_falls_back_to_one_status_check_and_is_resumed_only_by_its_token() -> None:
    wait = STATES["WaitForCallback"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    assert wait["TimeoutSecondsPath"] == "$.task.next_wait_seconds"
    assert wait["Catch"][0] == {"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "CheckStatus"}
    assert wait["Next"] == "PersistResult"
    callback_choice = next(c for c in STATES["IsGenerationDone"]["Choices"] if c.get("Next") == "WaitForCallback")
    assert {"Variable": "$.task.callbacks", "BooleanEquals": True} in callback_choice["And"]


def test_failures_end_in_a_fail_state_carrying_the_error_name() -> None:
    assert STATES["RecordFailure"]["Next"] == "JobFailed"
    assert STATES["JobFailed"] == {"Type": "Fail", "ErrorPath": "$.failure.error", "CausePath": "$.failure.cause"}


def test_every_substitution_is_one_the_template_provides() -> None:
    template = (Path(__file__).resolve().parents[2] / "template.yaml").read_text()
    substitutions = set(re.findall(r"\$\{(\w+)\}", json.dumps(ASL)))
    block = template[template.index("DefinitionSubstitutions:") : template.index("Tracing:\n        Enabled")]
    provided = set(re.findall(r"^\s{8}(\w+):", block, re.MULTILINE))
    assert substitutions == provided


def test_an_intake_failure_reaches_record_failure_without_the_raw_trigger() -> None:
    (catch,) = STATES["Intake"]["Catch"]
    assert catch["ResultPath"] == "$"
    rejected = STATES[catch["Next"]]
    assert rejected == {**rejected, "Type": "Pass", "Parameters": {"error.$": "$"}, "Next": "RecordFailure"}


def test_only_contract_and_platform_error_names_reach_retry_and_catch() -> None:
    """Retry and Catch match by name: a name outside the contract (a Python class like ValueError or
    IdempotencyAlreadyInProgressError) would only ever be caught by States.ALL, as a failure nobody can read."""
    named = {
        error
        for state in STATES.values()
        for clause in (*state.get("Retry", []), *state.get("Catch", []))
        for error in clause["ErrorEquals"]
    }
    assert named <= set(CONTRACT_ERROR_NAMES) | LAMBDA_PLATFORM_ERRORS | {"States.ALL", "States.Timeout"}, named


def test_claim_routes_duplicates_to_a_success_that_names_the_job_and_rejections_to_record_failure() -> None:
    assert STATES["Claim"]["Next"] == "ClaimOutcome"
    choice = STATES["ClaimOutcome"]
    assert choice["Choices"] == [
        {"Variable": "$.claim.outcome", "StringEquals": "duplicate", "Next": "Duplicate"},
        {"Variable": "$.rejection", "IsNull": False, "Next": "Rejected"},
    ]
    assert choice["Default"] == "ValidateMedia"
    duplicate = STATES["Duplicate"]
    assert duplicate["End"] is True
    assert {"duplicate_of.$", "status.$", "output_uri.$"} <= set(duplicate["Parameters"])
    assert STATES["Rejected"]["Next"] == "RecordFailure"
    assert STATES["Rejected"]["Parameters"]["error.$"] == "$.rejection"


@pytest.mark.parametrize("name", ["Submit", "CheckStatus"])
def test_paid_steps_know_which_execution_owns_the_attempt(name: str) -> None:
    assert STATES[name]["Parameters"]["execution_arn.$"] == "$$.Execution.Id"


def test_a_job_takes_a_slot_before_it_submits_and_waits_for_one_without_polling() -> None:
    assert STATES["ValidateMedia"]["Next"] == "Admit"
    assert STATES["IsAdmitted"]["Choices"] == [
        {"Variable": "$.admission.admitted", "BooleanEquals": True, "Next": "Submit"}
    ]
    assert STATES["IsAdmitted"]["Default"] == "WaitForSlot"
    wait = STATES["WaitForSlot"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    assert wait["TimeoutSecondsPath"] == "$.admission.seconds_left"
    assert wait["Next"] == "Admit", "woken, it finds its slot held"
    assert wait["Catch"][0] == {"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "QueueTimedOut"}
    assert STATES["QueueTimedOut"]["Parameters"]["Error"] == "JobTimedOut"


def test_a_throttled_submit_goes_back_to_the_queue_instead_of_failing() -> None:
    submit = STATES["Submit"]
    assert all("ProviderThrottled" not in retrier["ErrorEquals"] for retrier in submit["Retry"])
    assert submit["Catch"][0] == {"ErrorEquals": ["ProviderThrottled"], "ResultPath": "$.throttled", "Next": "Requeue"}
    assert STATES["Requeue"]["Parameters"]["action"] == "requeue"
    assert STATES["Requeue"]["Next"] == "BackOff"
    assert STATES["BackOff"] == {"Type": "Wait", "SecondsPath": "$.admission.backoff_seconds", "Next": "Admit"}
