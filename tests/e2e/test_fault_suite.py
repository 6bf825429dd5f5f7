"""Fault-injection suite: jobs run on the local stack while the provider simulator (and the local Lambda
runtime) inject faults. Every run must end in exactly one terminal state with the right error name; the jobs
table (attempt by attempt), the outcome events and the output bucket must agree; no execution may be left
running; and no fault may cause a duplicate paid submission, a lost result, a paid task the record does not
name, a record left RUNNING or QUEUED, or a secret in any output. Prints the table (``make faults``)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from avatar_local.lambda_runtime import CRASH_TAG
from avatar_local.mp4info import inspect_mp4
from avatar_local.samples import portrait_png, speech_audio

from .conftest import Stack

pytestmark = pytest.mark.e2e

JOBS_PER_FAULT = 2
WAVESPEED = "wavespeed/omnihuman-1.5"
ENDED = {"SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED", "ABORTED": "CANCELLED", "TIMED_OUT": "FAILED"}
PRESIGNED = re.compile(r"x-amz-(signature|credential)=", re.IGNORECASE)
Run = tuple[str, dict[str, Any], str]  # (job id, DescribeExecution of the run, media folder)
CALLBACK_GRACE_SECONDS = 5.0  # a task calls back within milliseconds of ending (simulator/callbacks.py)


@dataclass(frozen=True)
class Fault:
    name: str
    provider: str = WAVESPEED
    inject: tuple[dict[str, Any], ...] = ()
    crash: tuple[str, str] | None = None  # (function logical name, how)
    expected: str = "SUCCEEDED"  # or the contract error name every run must end in
    options: dict[str, Any] = field(default_factory=dict)
    runner: str = "concurrent"  # how the jobs run: see RUNNERS


FAULTS = [
    Fault("throttling burst", inject=({"operation": "submit", "fault": "throttle", "times": 4},)),
    Fault("5xx streak", inject=({"operation": "result", "fault": "server_error", "status": 502, "times": 4},)),
    Fault("connection resets", inject=({"operation": "result", "fault": "reset", "times": 3},)),
    Fault(
        "slower than the client timeout", inject=({"operation": "result", "fault": "slow", "seconds": 5, "times": 2},)
    ),
    Fault(
        "slow submit, task found by external id",
        provider="kling/avatar",
        inject=({"provider": "kling", "operation": "submit", "fault": "slow", "seconds": 5, "times": 1},),
    ),
    Fault(
        "failed tasks",
        inject=({"operation": "submit", "fault": "task_failed", "times": JOBS_PER_FAULT},),
        expected="ProviderTaskFailed",
    ),
    Fault(
        "not_found",
        provider="volcengine/omnihuman-1.5",
        inject=({"provider": "volcengine", "operation": "result", "fault": "not_found", "times": JOBS_PER_FAULT},),
        expected="ProviderTaskFailed",
    ),
    Fault(
        "expired task",
        provider="volcengine/omnihuman-1.5",
        inject=({"provider": "volcengine", "operation": "result", "fault": "expired", "times": JOBS_PER_FAULT},),
        expected="ProviderTaskFailed",
    ),
    Fault("result URL expired before the copy", inject=({"operation": "result", "fault": "expired_url", "times": 2},)),
    Fault("truncated body", inject=({"operation": "download", "fault": "truncated", "times": 2},)),
    Fault("wrong-type body (HTML 200)", inject=({"operation": "download", "fault": "wrong_type", "times": 2},)),
    Fault(
        "401 that echoes the request",
        inject=({"operation": "submit", "fault": "echo", "status": 401},),
        expected="ProviderRejected",
        runner="one",
    ),
    Fault("Lambda crash: Intake", crash=("IntakeFunction", "before")),
    Fault("Lambda crash: Claim, answer lost", crash=("ClaimJobFunction", "after")),
    Fault("Lambda crash: ValidateMedia", crash=("ValidateMediaFunction", "after")),
    Fault("Lambda service refuses: Admit (ServiceException)", crash=("AdmitJobFunction", "refused x2")),
    Fault(
        "Lambda service refuses: RecordOutcome after the video is stored", crash=("RecordOutcomeFunction", "refused")
    ),
    Fault("Lambda crash: Submit, answer lost", crash=("SubmitJobFunction", "after")),
    Fault(
        "Lambda crash: Submit after WaveSpeed accepted",
        inject=({"operation": "submit", "fault": "slow", "seconds": 4},),
        crash=("SubmitJobFunction", "during:2"),
        expected="JobTimedOut",
    ),
    Fault(
        "Lambda crash: Submit after Kling accepted",
        provider="kling/avatar",
        inject=({"provider": "kling", "operation": "submit", "fault": "slow", "seconds": 4},),
        crash=("SubmitJobFunction", "during:2"),
    ),
    Fault(
        "submit slower than the Lambda's timeout",
        inject=({"operation": "submit", "fault": "slow", "seconds": 12},),
        expected="JobTimedOut",
        runner="short_submit_timeout",
    ),
    # WaveSpeed calls back: only a lost callback makes the wait time out into CheckStatus, so the crash surely comes.
    Fault(
        "Lambda crash: CheckStatus",
        inject=({"operation": "callback", "fault": "lost"},),
        crash=("CheckStatusFunction", "before"),
    ),
    Fault(
        "Lambda crash: CheckStatus after a Volcengine subject-stage submit",
        provider="volcengine/omnihuman-1.5",
        crash=("CheckStatusFunction", "after"),
        options={"check_subject": True},
        runner="quick_tasks",
    ),
    Fault("Lambda crash: PersistResult, answer lost", crash=("PersistResultFunction", "after")),
    Fault("Lambda crash: RecordOutcome, answer lost", crash=("RecordOutcomeFunction", "after")),
    Fault("StopExecution mid-job", expected="JobCancelled", runner="stop"),
    Fault(
        "re-run after failure",
        inject=({"operation": "submit", "fault": "task_failed", "times": 1},),
        expected="ProviderTaskFailed,SUCCEEDED",
        runner="rerun",
    ),
]


@dataclass
class Row:
    fault: str
    runs: int = 0
    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    duplicate_submissions: int = 0
    lost_results: int = 0
    unrecorded_tasks: int = 0
    left_open: int = 0
    secrets_found: int = 0
    disagreements: list[str] = field(default_factory=list)


ROWS: list[Row] = []


# --- running jobs ---------------------------------------------------------------------------------


def _prepare(stack: Stack, fault: Fault, tag: str) -> tuple[str, dict[str, Any]]:
    folder = f"media/faults-{tag}-{uuid.uuid4().hex[:8]}"
    s3, bucket = stack.client("s3"), stack.info["input_bucket"]
    s3.put_object(Bucket=bucket, Key=f"{folder}/face.png", Body=portrait_png(320))
    s3.put_object(Bucket=bucket, Key=f"{folder}/voice.wav", Body=speech_audio(2.0))
    request = {
        "provider": fault.provider,
        "image": f"s3://{bucket}/{folder}/face.png",
        "audio": f"s3://{bucket}/{folder}/voice.wav",
        "job_id": f"fault-{uuid.uuid4().hex[:12]}",
    }
    if fault.options:
        request["options"] = fault.options
    return folder, request


def _start(stack: Stack, request: dict[str, Any]) -> str:
    started = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.info["state_machine_arn"], input=json.dumps(request)
    )
    return str(started["executionArn"])


def _one(stack: Stack, fault: Fault, tag: str) -> Run:
    folder, request = _prepare(stack, fault, tag)
    return request["job_id"], stack.wait_until_done(_start(stack, request), timeout=240), folder


def run_concurrent(stack: Stack, fault: Fault, jobs: int) -> list[Run]:
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda n: _one(stack, fault, str(n)), range(jobs)))


def run_rerun(stack: Stack, fault: Fault, jobs: int) -> list[Run]:
    folder, request = _prepare(stack, fault, "rerun")
    first = stack.wait_until_done(_start(stack, request), timeout=240)
    second = stack.wait_until_done(_start(stack, request), timeout=240)
    return [(request["job_id"], first, folder), (request["job_id"], second, folder)]


def run_stop(stack: Stack, fault: Fault, jobs: int) -> list[Run]:
    with stack.simulator_settings(task_seconds=30.0):
        folder, request = _prepare(stack, fault, "stop")
        execution_arn = _start(stack, request)
        _wait(lambda: stack.job_record(request["job_id"]).get("provider_task_id"), "a submitted task")
        stack.client("stepfunctions").stop_execution(executionArn=execution_arn)
        described = stack.wait_until_done(execution_arn)
        _wait(lambda: stack.job_record(request["job_id"]).get("status") == "CANCELLED", "the reconciled record")
    return [(request["job_id"], {**described, "error": "JobCancelled"}, folder)]


def run_quick_tasks(stack: Stack, fault: Fault, jobs: int) -> list[Run]:
    """Tasks finish in 0.2 s, so the first status check already finds the subject check done."""
    with stack.simulator_settings(task_seconds=0.2):
        return [_one(stack, fault, "quick")]


def run_short_submit_timeout(stack: Stack, fault: Fault, jobs: int) -> list[Run]:
    lambda_client = stack.client("lambda")
    name = _function_arn(stack, "SubmitJobFunction")
    before = lambda_client.get_function_configuration(FunctionName=name)["Timeout"]
    lambda_client.update_function_configuration(FunctionName=name, Timeout=8)
    try:
        runs = [_one(stack, fault, "short")]
    finally:
        lambda_client.update_function_configuration(FunctionName=name, Timeout=before)
    errors = _lambda_errors(stack, runs[0][1]["executionArn"])
    assert "Sandbox.Timedout" not in errors, "the call ended before the Lambda did, and was recorded"
    return runs


RUNNERS: dict[str, Callable[[Stack, Fault, int], list[Run]]] = {
    "concurrent": run_concurrent,
    "one": lambda stack, fault, jobs: [_one(stack, fault, "one")],
    "rerun": run_rerun,
    "stop": run_stop,
    "quick_tasks": run_quick_tasks,
    "short_submit_timeout": run_short_submit_timeout,
}


# --- checking what the runs left behind -----------------------------------------------------------


def _wait(condition: Callable[[], Any], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def _wait_for_earlier_tasks_to_call_back(stack: Stack, timeout: float = 60) -> None:
    """A task an earlier fault left behind (a submission the provider finished creating after its job had ended, or
    a cancelled job's task) still calls back when it ends. A callback fault queued before that would be taken by its
    callback instead of this fault's job: wait until every task has ended and called back, or had time to."""

    def unsettled() -> list[str]:
        stats, now = stack.simulator_stats(), datetime.now(UTC)
        called = {callback["task_id"] for callback in stats["callbacks"]}
        return [
            submission["task_id"]
            for submission in stats["submissions"]
            if submission["finished_at"] is None
            or (
                submission["task_id"] not in called
                and (now - datetime.fromisoformat(submission["finished_at"])).total_seconds() < CALLBACK_GRACE_SECONDS
            )
        ]

    _wait(lambda: not unsettled(), "earlier tasks ending and calling back", timeout)


def _function_arn(stack: Stack, logical: str) -> str:
    for function in stack.client("lambda").list_functions()["Functions"]:
        if f"-{logical}-" in function["FunctionName"]:
            return str(function["FunctionArn"])
    raise AssertionError(f"no function {logical}")


def _history(stack: Stack, execution_arn: str) -> list[dict[str, Any]]:
    return list(
        stack.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    )


def _lambda_errors(stack: Stack, execution_arn: str) -> list[str]:
    return [
        e["lambdaFunctionFailedEventDetails"]["error"]
        for e in _history(stack, execution_arn)
        if e["type"] == "LambdaFunctionFailed"
    ]


def _credentials(stack: Stack) -> list[str]:
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.info["secret_arn"])
    document = json.loads(secret["SecretString"])
    return [value for entry in document.values() for value in entry.values() if isinstance(value, str) and value]


def _named_tasks(item: dict[str, Any]) -> tuple[set[str], list[str]]:
    """Task ids the record names, and the times of submissions it names as possibly created."""
    ids = {str(item["provider_task_id"])} if item.get("provider_task_id") else set()
    possible = [item["possible_provider_task"]] if item.get("possible_provider_task") else []
    for submission in (item.get("submissions") or {}).values():
        if submission.get("task_id"):
            ids.add(str(submission["task_id"]))
        if submission.get("state") in ("intent", "unknown"):
            possible.append({"submitted_at": submission["intent_at"]})
    for attempt in item.get("attempts", []):
        ids |= {str(task) for task in attempt.get("provider_task_ids", [])}
        if attempt.get("possible_provider_task"):
            possible.append(attempt["possible_provider_task"])
    ids |= {str(orphan["task_id"]) for orphan in item.get("orphaned_tasks", [])}
    return ids, sorted({str(entry["submitted_at"]) for entry in possible})


def _check(stack: Stack, row: Row, fault: Fault, runs: list[Run], credentials: list[str]) -> None:
    expected = fault.expected.split(",")
    job_ids = sorted({job_id for job_id, _, _ in runs})
    for index, (job_id, described, _folder) in enumerate(runs):
        row.runs += 1
        status, error = described["status"], described.get("error")
        if status == "SUCCEEDED":
            row.succeeded += 1
        else:
            row.failed[error or status] += 1
        want = expected[index] if len(expected) > 1 else expected[0]
        got = "SUCCEEDED" if status == "SUCCEEDED" else error
        if got != want:
            row.disagreements.append(f"{job_id}: ended {status}/{error}: {described.get('cause')}; expected {want}")
        item = stack.job_record(job_id)
        attempt = next((a for a in item.get("attempts", []) if a["execution_arn"] == described["executionArn"]), {})
        if attempt.get("status") != ENDED[status]:
            row.disagreements.append(f"{job_id}: attempt recorded {attempt.get('status')}, execution {status}")
        events = [
            e["detail-type"]
            for e in stack.outcome_events(job_id)
            if e["detail"].get("execution_arn") == described["executionArn"]
        ]
        wanted_event = "Avatar Video Succeeded" if status == "SUCCEEDED" else "Avatar Video Failed"
        if events != [wanted_event]:
            row.disagreements.append(f"{job_id}: events {events} for a {status} run")
        if error == "ResultUnavailable":
            row.lost_results += 1
        text = json.dumps([_history(stack, described["executionArn"]), item, described], default=str)
        row.secrets_found += sum(1 for value in credentials if value in text) + len(PRESIGNED.findall(text))
    for job_id in job_ids:
        _check_job(stack, row, job_id, [run for run in runs if run[0] == job_id], credentials)


def _check_job(stack: Stack, row: Row, job_id: str, runs: list[Run], credentials: list[str]) -> None:
    item, folder = stack.job_record(job_id), runs[0][2]
    if item.get("status") in ("RUNNING", "QUEUED"):
        row.left_open += 1
    named, possible = _named_tasks(item)
    if possible:  # a submission the provider may still be creating when the job has already ended
        _wait(lambda: len(stack.submissions(folder)) >= len(possible), "the late submission", timeout=20)
    submissions = stack.submissions(folder)
    by_model = Counter(submission["model"] for submission in submissions)
    row.duplicate_submissions += sum(max(0, count - len(runs)) for count in by_model.values())
    for submission in submissions:
        covered = any(at <= submission["received_at"] for at in possible)
        if submission["task_id"] not in named and not covered:
            row.unrecorded_tasks += 1
    succeeded = [described for _, described, _ in runs if described["status"] == "SUCCEEDED"]
    s3, bucket = stack.client("s3"), stack.info["output_bucket"]
    keys = {
        obj["Key"].rsplit("/", 1)[1]
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=f"{job_id}/").get("Contents", [])
    }
    if succeeded:
        body = s3.get_object(Bucket=bucket, Key=f"{job_id}/video.mp4")["Body"].read()
        if not (body and inspect_mp4(body).has_video):
            row.lost_results += 1
        versions = s3.list_object_versions(Bucket=bucket, Prefix=f"{job_id}/video.mp4")["Versions"]
        if len(versions) != len(succeeded):
            row.disagreements.append(f"{job_id}: {len(versions)} versions of video.mp4 for {len(succeeded)} successes")
    if keys != ({"video.mp4", "result.json"} if succeeded else set()):
        row.disagreements.append(f"{job_id}: output bucket holds {sorted(keys)}")
    log_lines = [line for line in Path(stack.info["lambda_log"]).read_text().splitlines() if job_id in line]
    row.secrets_found += sum(1 for line in log_lines for value in credentials if value in line)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(stack: Stack, fault: Fault) -> None:
    if any(spec["operation"] == "callback" for spec in fault.inject):
        _wait_for_earlier_tasks_to_call_back(stack)
    for spec in fault.inject:
        stack.inject(**{"provider": fault.provider.split("/")[0], **spec})
    jobs = JOBS_PER_FAULT
    if fault.crash is not None:
        logical, how = fault.crash
        stack.client("lambda").tag_resource(Resource=_function_arn(stack, logical), Tags={CRASH_TAG: how})
        jobs = 1  # the crash is used up by the first invocation
    row = Row(fault.name)
    runs = RUNNERS[fault.runner](stack, fault, jobs)
    _check(stack, row, fault, runs, _credentials(stack))
    ROWS.append(row)
    # The faults really happened: every injected fault was used up, every crash shows in the history.
    assert httpx.get(f"{stack.simulator}/_simulator/faults").json()["faults"] == []
    if fault.crash is not None:
        seen = "Lambda.ServiceException" if fault.crash[1].startswith("refused") else "Runtime.ExitError"
        assert seen in _lambda_errors(stack, runs[0][1]["executionArn"])
    assert row.disagreements == []
    assert (row.duplicate_submissions, row.lost_results, row.unrecorded_tasks) == (0, 0, 0)
    assert (row.left_open, row.secrets_found) == (0, 0)


def test_print_the_fault_table(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    running = stack.client("stepfunctions").list_executions(
        stateMachineArn=stack.info["state_machine_arn"], statusFilter="RUNNING"
    )["executions"]
    columns = ("runs", "ok", "dup. paid", "lost", "unrecorded", "left open", "secrets")
    header = f"{'fault':<62}" + "".join(f"{c:>11}" for c in columns) + f"  {'failed (by error)'}"
    lines = [header, "-" * len(header)]
    for row in ROWS:
        failed = ", ".join(f"{name} {count}" for name, count in sorted(row.failed.items())) or "-"
        figures = (row.runs, row.succeeded, row.duplicate_submissions, row.lost_results, row.unrecorded_tasks)
        figures += (row.left_open, row.secrets_found)
        lines.append(f"{row.fault:<62}" + "".join(f"{f:>11}" for f in figures) + f"  {failed}")
    totals = [sum(getattr(r, name) for r in ROWS) for name in ("runs", "succeeded", "duplicate_submissions")]
    totals += [sum(getattr(r, name) for r in ROWS) for name in ("lost_results", "unrecorded_tasks", "left_open")]
    totals += [sum(r.secrets_found for r in ROWS)]
    lines.append(f"{'total':<62}" + "".join(f"{t:>11}" for t in totals))
    lines.append(f"executions still running: {len(running)}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(ROWS) == len(FAULTS), "every fault ran"
    assert totals[2:] == [0, 0, 0, 0, 0]
    assert running == []
