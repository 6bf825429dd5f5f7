"""A job's whole life on the local stack (contract: Job lifecycle): re-runs as attempts, conflicts, duplicates,
cancel (``avatar-pipeline jobs cancel`` and StopExecution by hand), reconciliation, readable ids, and failures
recorded under the caller's job id."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from avatar_local.lambda_runtime import CRASH_TAG
from avatar_local.samples import portrait_png, speech_audio

from .conftest import ROOT, Stack, wait_until

pytestmark = pytest.mark.e2e

PROVIDER = "wavespeed/omnihuman-1.5"


def wait_for_record(stack: Stack, job_id: str, status: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:
        found = stack.job_record(job_id)
        if found.get("status") == status:
            return found
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} is {found.get('status')}, not {status}: {found}")


def outcomes(stack: Stack, job_id: str, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(events) < count:
        events = stack.outcome_events(job_id, timeout=2)
    return sorted(events, key=lambda event: (event["detail"].get("attempt") or 0, event["detail-type"]))


@pytest.fixture
def slow_tasks(stack: Stack) -> Iterator[None]:
    """Generations take 30 s, so a job can be caught mid-flight."""
    settings = f"{stack.simulator}/_simulator/settings"
    before = httpx.get(settings).json()["task_seconds"]
    httpx.post(settings, json={"task_seconds": 30.0}).raise_for_status()
    try:
        yield
    finally:
        httpx.post(settings, json={"task_seconds": before}).raise_for_status()


def test_a_failed_job_is_run_again_as_a_new_attempt_of_the_same_id(stack: Stack) -> None:
    folder = f"media/rerun-{uuid.uuid4().hex[:8]}"
    image, audio = stack.upload_media(folder)
    job_id = f"rerun-{uuid.uuid4().hex[:8]}"
    request = {"provider": PROVIDER, "image": image, "audio": audio, "job_id": job_id}
    stack.inject(operation="submit", fault="task_failed", times=1)
    failed = stack.wait_until_done(stack.start(request))
    assert (failed["status"], failed["error"]) == ("FAILED", "ProviderTaskFailed")

    again = stack.wait_until_done(stack.start(request))

    assert again["status"] == "SUCCEEDED", again
    output = json.loads(again["output"])
    assert output["job_id"] == job_id
    assert output["output_uri"].endswith(f"/{job_id}/video.mp4")
    item = stack.job_record(job_id)
    assert (item["status"], item["attempt"]) == ("SUCCEEDED", 2)
    assert [(a["attempt"], a["status"]) for a in item["attempts"]] == [(1, "FAILED"), (2, "SUCCEEDED")]
    assert item["attempts"][0]["error"] == "ProviderTaskFailed"
    assert len(stack.submissions(folder)) == 2, "one paid task per attempt"
    events = outcomes(stack, job_id, 2)
    assert [(e["detail"]["attempt"], e["detail-type"]) for e in events] == [
        (1, "Avatar Video Failed"),
        (2, "Avatar Video Succeeded"),
    ]


def test_a_manifest_re_uploaded_after_its_media_was_fixed_runs_again_under_its_readable_id(stack: Stack) -> None:
    folder = f"jobs/fixme-{uuid.uuid4().hex[:8]}"
    s3, bucket = stack.client("s3"), stack.info["input_bucket"]
    manifest = json.dumps({"image": "face.png", "audio": "voice.wav"}).encode()
    s3.put_object(Bucket=bucket, Key=f"{folder}/Intro Lesson.json", Body=manifest)
    first = stack.wait_until_done(stack.wait_for_execution(f"{folder}/Intro Lesson.json"))
    assert (first["status"], first["error"]) == ("FAILED", "InvalidRequest")
    (event,) = outcomes(stack, job_id := _job_id_of_failure(stack, first), 1)
    assert re.fullmatch(r"intro-lesson-[0-9a-f]{8}", job_id), "a user finds 'intro-lesson' in the bucket"
    assert event["detail"]["trigger"] == {"kind": "manifest", "manifest": f"s3://{bucket}/{folder}/Intro Lesson.json"}

    stack.upload_media(folder)
    s3.put_object(Bucket=bucket, Key=f"{folder}/Intro Lesson.json", Body=manifest)  # the same content again
    arns = wait_until(lambda: _executions_for(stack, f"{folder}/Intro Lesson.json"), what="a second execution")
    second = stack.wait_until_done(arns[0] if arns[0] != first["executionArn"] else arns[1])

    assert second["status"] == "SUCCEEDED", second
    assert json.loads(second["output"])["job_id"] == job_id
    assert (stack.job_record(job_id)["attempt"], stack.job_record(job_id)["status"]) == (2, "SUCCEEDED")
    s3.head_object(Bucket=stack.info["output_bucket"], Key=f"{job_id}/video.mp4")


def test_a_different_request_under_a_finished_job_id_is_refused_and_a_duplicate_named(stack: Stack) -> None:
    image, audio = stack.upload_media(f"media/conflict-{uuid.uuid4().hex[:8]}")
    job_id = f"conflict-{uuid.uuid4().hex[:8]}"
    request = {"provider": PROVIDER, "image": image, "audio": audio, "job_id": job_id}
    assert stack.wait_until_done(stack.start(request))["status"] == "SUCCEEDED"
    done = stack.job_record(job_id)

    duplicate = stack.wait_until_done(stack.start(request))
    refused = stack.wait_until_done(stack.start({**request, "output_prefix": "v2/"}))

    assert duplicate["status"] == "SUCCEEDED"
    said = json.loads(duplicate["output"])
    assert said["duplicate"] is True
    assert (said["duplicate_of"], said["status"], said["attempt"]) == (job_id, "SUCCEEDED", 1)
    assert said["output_uri"] == done["output_uri"]
    assert (refused["status"], refused["error"]) == ("FAILED", "InvalidRequest")
    assert f"job {job_id} is already SUCCEEDED (attempt 1) with another request" in refused["cause"]
    assert stack.job_record(job_id) == done, "the existing record is untouched"
    events = outcomes(stack, job_id, 2)
    conflict = [e for e in events if e["detail-type"] == "Avatar Video Failed"]
    assert [e["detail"]["conflict"] for e in conflict] == [{"status": "SUCCEEDED", "attempt": 1}]


def test_jobs_cancel_stops_a_running_job_and_the_id_can_run_again(stack: Stack, slow_tasks: None) -> None:
    image, audio = stack.upload_media(f"media/cancel-{uuid.uuid4().hex[:8]}")
    job_id = f"cancel-{uuid.uuid4().hex[:8]}"
    request = {"provider": PROVIDER, "image": image, "audio": audio, "job_id": job_id}
    execution_arn = stack.start(request)
    task_id = wait_until(lambda: stack.job_record(job_id).get("provider_task_id"), what="a submitted task")

    cancelled = cli("jobs", "cancel", job_id, "--state-dir", _state_dir(stack), "--json")

    assert cancelled.returncode == 0, cancelled.stderr
    said = json.loads(cancelled.stdout)
    assert (said["status"], said["cancelled"], said["provider_task_id"]) == ("CANCELLED", True, task_id)
    described = stack.wait_until_done(execution_arn)
    assert described["status"] == "ABORTED"
    item = stack.job_record(job_id)
    assert (item["status"], item["error"], item["provider_task_id"]) == ("CANCELLED", "JobCancelled", task_id)
    (event,) = outcomes(stack, job_id, 1)
    assert (event["detail"]["error"], event["detail"]["provider_task_id"]) == ("JobCancelled", task_id)
    again = cli("jobs", "cancel", job_id, "--state-dir", _state_dir(stack))
    assert again.returncode == 1
    assert f"job {job_id} is already CANCELLED" in again.stdout


def test_stop_execution_by_hand_is_reconciled_within_a_minute(stack: Stack, slow_tasks: None) -> None:
    image, audio = stack.upload_media(f"media/stop-{uuid.uuid4().hex[:8]}")
    job_id = f"stop-{uuid.uuid4().hex[:8]}"
    execution_arn = stack.start({"provider": PROVIDER, "image": image, "audio": audio, "job_id": job_id})
    wait_until(lambda: stack.job_record(job_id).get("provider_task_id"), what="a submitted task")
    stopped_at = time.monotonic()

    stack.client("stepfunctions").stop_execution(executionArn=execution_arn)

    item = wait_for_record(stack, job_id, "CANCELLED", timeout=60)
    reconciled_after = time.monotonic() - stopped_at
    assert item["error"] == "JobCancelled"
    assert "the execution was stopped" in item["cause"]
    print(f"\nStopExecution → CANCELLED record in {reconciled_after:.2f} s")
    assert [e["detail"]["error"] for e in outcomes(stack, job_id, 1)] == ["JobCancelled"]


def test_unknown_cli_use_and_a_missing_stack_exit_2_with_one_line(stack: Stack, tmp_path: Path) -> None:
    missing = cli("jobs", "cancel", "x", "--state-dir", str(tmp_path))
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "Traceback" not in missing.stderr
    unknown_job = cli("jobs", "cancel", "no-such-job", "--state-dir", _state_dir(stack))
    assert unknown_job.returncode == 2
    assert "no job no-such-job" in unknown_job.stderr


def test_a_failure_before_the_request_is_valid_is_recorded_under_the_callers_job_id(stack: Stack) -> None:
    job_id = f"bad-{uuid.uuid4().hex[:8]}"
    name = f"typo-{uuid.uuid4().hex[:8]}"
    request = {"image": "s3://x/y.png", "audio": "s3://x/y.wav", "output": "typo", "job_id": job_id}
    described = stack.wait_until_done(stack.start(request, name))

    assert (described["status"], described["error"]) == ("FAILED", "InvalidRequest")
    item = stack.job_record(job_id)
    assert (item["status"], item["error"]) == ("FAILED", "InvalidRequest")
    assert item["origin"]["execution_name"] == name
    (event,) = outcomes(stack, job_id, 1)
    assert event["detail"]["trigger"] == {"kind": "console", "execution_name": name}


def test_a_pair_re_dropped_after_a_failure_runs_again_and_odd_files_are_logged(stack: Stack) -> None:
    s3, bucket = stack.client("s3"), stack.info["input_bucket"]
    stem = f"drop/pair-{uuid.uuid4().hex[:8]}"
    stack.inject(operation="submit", fault="task_failed", times=1)
    s3.put_object(Bucket=bucket, Key=f"{stem}.png", Body=portrait_png(320))
    s3.put_object(Bucket=bucket, Key=f"{stem}.wav", Body=speech_audio(2.0))
    first = stack.wait_until_done(stack.wait_for_execution(f"{stem}.png"))
    assert (first["status"], first["error"]) == ("FAILED", "ProviderTaskFailed")
    job_id = json.loads(first["input"])["detail"]["job_id"]
    assert re.fullmatch(r"pair-[0-9a-f]{8}-[0-9a-f]{8}", job_id)

    s3.put_object(Bucket=bucket, Key=f"{stem}.png", Body=portrait_png(320))
    s3.put_object(Bucket=bucket, Key=f"{stem}.wav", Body=speech_audio(2.0))
    arns = wait_until(lambda: [a for a in _executions_for(stack, f"{stem}.png") if a != first["executionArn"]])
    second = stack.wait_until_done(arns[0])

    assert second["status"] == "SUCCEEDED", second
    assert json.loads(second["output"])["job_id"] == job_id
    assert stack.job_record(job_id)["attempt"] == 2

    lone, odd = f"{stem}-alone.png", f"{stem}-odd.flac"
    s3.put_object(Bucket=bucket, Key=lone, Body=portrait_png(64))
    s3.put_object(Bucket=bucket, Key=odd, Body=b"fLaC")
    log = Path(stack.info["lambda_log"])
    # The two files are two events, handled in either order: each warning is waited for on its own.
    warnings = wait_until(
        lambda: [line for line in log.read_text().splitlines() if '"level":"WARNING"' in line and lone in line],
        what="the lone file's warning",
    )
    assert any("no partner yet" in line for line in warnings)
    wait_until(lambda: any(odd in line and "not a pair drop file" in line for line in log.read_text().splitlines()))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``avatar-pipeline ARGS``, as a person runs it."""
    command = [sys.executable, "-m", "avatar_local.cli", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def _history(stack: Stack, execution_arn: str) -> list[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    return list(sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"])


def _state_dir(stack: Stack) -> str:
    return str(Path(stack.info["lambda_log"]).parent)


def _executions_for(stack: Stack, marker: str) -> list[str]:
    sfn = stack.client("stepfunctions")
    found = []
    for execution in sfn.list_executions(stateMachineArn=stack.info["state_machine_arn"])["executions"]:
        if marker in sfn.describe_execution(executionArn=execution["executionArn"]).get("input", ""):
            found.append(str(execution["executionArn"]))
    return found


def _job_id_of_failure(stack: Stack, described: dict[str, Any]) -> str:
    history = stack.client("stepfunctions").get_execution_history(
        executionArn=described["executionArn"], maxResults=1000
    )
    for event in history["events"]:
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "Claim":
            return str(json.loads(event["stateExitedEventDetails"]["output"])["ref"]["job_id"])
    raise AssertionError("Claim never finished")


@pytest.fixture
def short_execution_timeout(stack: Stack) -> Iterator[None]:
    """The real state machine, with TimeoutSeconds of 4 s instead of 4 h (through UpdateStateMachine, as a
    person could), so an execution times out while its job is still generating."""
    sfn = stack.client("stepfunctions")
    arn = stack.info["state_machine_arn"]
    definition = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
    shortened = json.loads(definition)
    shortened["TimeoutSeconds"] = 4
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(shortened))
    try:
        yield
    finally:
        sfn.update_state_machine(stateMachineArn=arn, definition=definition)


def test_an_execution_that_times_out_is_reconciled(
    stack: Stack, slow_tasks: None, short_execution_timeout: None
) -> None:
    image, audio = stack.upload_media(f"media/timeout-{uuid.uuid4().hex[:8]}")
    job_id = f"timeout-{uuid.uuid4().hex[:8]}"
    execution_arn = stack.start({"provider": PROVIDER, "image": image, "audio": audio, "job_id": job_id})

    assert stack.wait_until_done(execution_arn)["status"] == "TIMED_OUT"

    item = wait_for_record(stack, job_id, "FAILED", timeout=60)
    assert item["error"] == "JobTimedOut"
    assert "TimeoutSeconds" in item["cause"]
    assert [e["detail"]["error"] for e in outcomes(stack, job_id, 1)] == ["JobTimedOut"]


def test_an_execution_that_fails_past_its_catch_is_reconciled(stack: Stack) -> None:
    """RecordOutcome keeps crashing, so RecordFailure's retries run out and the execution fails in
    JobFailedUnrecorded with its record still RUNNING: Reconcile closes it and publishes the event."""
    image, audio = stack.upload_media(f"media/unrecorded-{uuid.uuid4().hex[:8]}")
    job_id = f"unrecorded-{uuid.uuid4().hex[:8]}"
    stack.inject(operation="submit", fault="task_failed", times=1)
    lambda_client = stack.client("lambda")
    record_outcome = next(
        f["FunctionArn"]
        for f in lambda_client.list_functions()["Functions"]
        if "-RecordOutcomeFunction-" in f["FunctionName"]
    )
    # RecordFailure is tried 4 times (its Retry allows 3 more).
    lambda_client.tag_resource(Resource=record_outcome, Tags={CRASH_TAG: "before x4"})
    execution_arn = stack.start({"provider": PROVIDER, "image": image, "audio": audio, "job_id": job_id})
    sfn = stack.client("stepfunctions")
    stack.wait_until_done(execution_arn)
    assert CRASH_TAG not in lambda_client.list_tags(Resource=record_outcome)["Tags"], "every crash was used"
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in _history(stack, execution_arn) if "stateEnteredEventDetails" in e
    ]
    assert entered[-1] == "JobFailedUnrecorded"
    described = sfn.describe_execution(executionArn=execution_arn)
    assert (described["status"], described["error"]) == ("FAILED", "ProviderTaskFailed")

    item = wait_for_record(stack, job_id, "FAILED", timeout=60)
    assert item["error"] == "ProviderTaskFailed"
    (event,) = outcomes(stack, job_id, 1)
    assert event["detail"]["execution_arn"] == execution_arn
