"""Fault-injection suite: jobs run on the local stack while the provider simulator (and the local Lambda
runtime) inject faults. Every job must end in exactly one terminal state with the right error name; the
jobs table, the outcome events and the output bucket must agree; no execution may be left running; and no
fault may cause a duplicate paid submission or a lost result. Prints the table (``make faults``)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Fault:
    name: str
    provider: str = WAVESPEED
    inject: tuple[dict[str, Any], ...] = ()
    crash: tuple[str, str] | None = None  # (function logical name prefix, how)
    expected: str = "SUCCEEDED"  # or the contract error name every job must end in


FAULTS = [
    Fault("throttling burst", inject=({"operation": "submit", "fault": "throttle", "times": 4},)),
    Fault("5xx streak", inject=({"operation": "result", "fault": "server_error", "status": 502, "times": 4},)),
    Fault("connection resets", inject=({"operation": "result", "fault": "reset", "times": 3},)),
    Fault(
        "slower than the client timeout", inject=({"operation": "result", "fault": "slow", "seconds": 5, "times": 2},)
    ),
    Fault(
        "slow submit, task found by job id",
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
    Fault("Lambda crash: Intake", crash=("IntakeFunction", "before")),
    Fault("Lambda crash: ValidateMedia", crash=("ValidateMediaFunction", "after")),
    Fault("Lambda crash: Submit, answer lost", crash=("SubmitJobFunction", "after")),
    Fault("Lambda crash: CheckStatus", crash=("CheckStatusFunction", "before")),
    Fault("Lambda crash: PersistResult, answer lost", crash=("PersistResultFunction", "after")),
    Fault("Lambda crash: RecordOutcome, answer lost", crash=("RecordOutcomeFunction", "after")),
]


@dataclass
class Row:
    fault: str
    jobs: int = 0
    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    duplicate_submissions: int = 0
    lost_results: int = 0
    disagreements: list[str] = field(default_factory=list)


ROWS: list[Row] = []


def _run_job(stack: Stack, provider: str, tag: str) -> tuple[str, dict[str, Any], str]:
    folder = f"media/faults-{tag}-{uuid.uuid4().hex[:8]}"
    s3, bucket = stack.client("s3"), stack.info["input_bucket"]
    s3.put_object(Bucket=bucket, Key=f"{folder}/face.png", Body=portrait_png(320))
    s3.put_object(Bucket=bucket, Key=f"{folder}/voice.wav", Body=speech_audio(2.0))
    job_id = f"fault-{uuid.uuid4().hex[:12]}"
    request = {
        "provider": provider,
        "image": f"s3://{bucket}/{folder}/face.png",
        "audio": f"s3://{bucket}/{folder}/voice.wav",
        "job_id": job_id,
    }
    execution = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.info["state_machine_arn"], input=json.dumps(request)
    )
    return job_id, stack.wait_until_done(execution["executionArn"], timeout=240), folder


def _function_arn(stack: Stack, logical: str) -> str:
    for function in stack.client("lambda").list_functions()["Functions"]:
        if f"-{logical}-" in function["FunctionName"]:
            return str(function["FunctionArn"])
    raise AssertionError(f"no function {logical}")


def _check(stack: Stack, row: Row, job_id: str, described: dict[str, Any], folder: str, fault: Fault) -> None:
    row.jobs += 1
    status = described["status"]
    if status == "SUCCEEDED":
        row.succeeded += 1
    else:
        row.failed[described.get("error", status)] += 1
    row.duplicate_submissions += max(0, len(stack.submissions(folder)) - 1)
    item = stack.client("dynamodb").get_item(TableName=stack.info["jobs_table"], Key={"job_id": {"S": job_id}})
    record = {name: value["S"] for name, value in item.get("Item", {}).items()}
    events = [e["detail-type"] for e in stack.outcome_events(job_id)]
    output = stack.client("s3").list_objects_v2(Bucket=stack.info["output_bucket"], Prefix=f"{job_id}/")
    keys = {item["Key"].rsplit("/", 1)[1] for item in output.get("Contents", [])}
    if status == "SUCCEEDED":
        video = stack.client("s3").get_object(Bucket=stack.info["output_bucket"], Key=f"{job_id}/video.mp4")
        body = video["Body"].read()
        verified = inspect_mp4(body).has_video and len(body) > 0
        versions = stack.client("s3").list_object_versions(
            Bucket=stack.info["output_bucket"], Prefix=f"{job_id}/video.mp4"
        )["Versions"]
        if not verified:
            row.lost_results += 1
        if len(versions) != 1:
            row.disagreements.append(f"{job_id}: {len(versions)} versions of video.mp4")
        expected_record, expected_events, expected_keys = (
            "SUCCEEDED",
            ["Avatar Video Succeeded"],
            {"video.mp4", "result.json"},
        )
    else:
        if described.get("error") == "ResultUnavailable":
            row.lost_results += 1
        expected_record, expected_events, expected_keys = "FAILED", ["Avatar Video Failed"], set()
    if record.get("status") != expected_record:
        row.disagreements.append(f"{job_id}: table says {record.get('status')}, execution {status}")
    if events != expected_events:
        row.disagreements.append(f"{job_id}: events {events}, execution {status}")
    if keys != expected_keys:
        row.disagreements.append(f"{job_id}: output bucket holds {sorted(keys)}, execution {status}")
    if fault.expected != "SUCCEEDED" and described.get("error") != fault.expected:
        row.disagreements.append(f"{job_id}: ended {status}/{described.get('error')}, expected {fault.expected}")
    if fault.expected == "SUCCEEDED" and status != "SUCCEEDED":
        row.disagreements.append(f"{job_id}: {described.get('error')}: {described.get('cause')}")


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(stack: Stack, fault: Fault) -> None:
    for spec in fault.inject:
        stack.inject(**{"provider": fault.provider.split("/")[0], **spec})
    jobs = JOBS_PER_FAULT
    if fault.crash is not None:
        logical, how = fault.crash
        stack.client("lambda").tag_resource(Resource=_function_arn(stack, logical), Tags={CRASH_TAG: how})
        jobs = 1  # the crash is used up by the first invocation
    row = Row(fault.name)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda n: _run_job(stack, fault.provider, str(n)), range(jobs)))
    for job_id, described, folder in results:
        _check(stack, row, job_id, described, folder, fault)
    ROWS.append(row)
    # The faults really happened: every injected fault was used up, every crash shows in the history.
    assert httpx.get(f"{stack.simulator}/_simulator/faults").json()["faults"] == []
    if fault.crash is not None:
        history = stack.client("stepfunctions").get_execution_history(
            executionArn=results[0][1]["executionArn"], maxResults=1000
        )["events"]
        errors = [
            e["lambdaFunctionFailedEventDetails"]["error"] for e in history if e["type"] == "LambdaFunctionFailed"
        ]
        assert errors == ["Runtime.ExitError"]
    assert row.duplicate_submissions == 0
    assert row.lost_results == 0
    assert row.disagreements == []


def test_print_the_fault_table(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    running = stack.client("stepfunctions").list_executions(
        stateMachineArn=stack.info["state_machine_arn"], statusFilter="RUNNING"
    )["executions"]
    header = f"{'fault':<44}{'jobs':>5}{'ok':>5}  {'failed (by error)':<30}{'dup. submissions':>18}{'lost results':>14}"
    lines = [header, "-" * len(header)]
    for row in ROWS:
        failed = ", ".join(f"{name} {count}" for name, count in sorted(row.failed.items())) or "-"
        lines.append(
            f"{row.fault:<44}{row.jobs:>5}{row.succeeded:>5}  {failed:<30}{row.duplicate_submissions:>18}"
            f"{row.lost_results:>14}"
        )
    totals = (sum(r.jobs for r in ROWS), sum(r.duplicate_submissions for r in ROWS), sum(r.lost_results for r in ROWS))
    lines.append(f"{'total':<44}{totals[0]:>5}{'':>37}{totals[1]:>18}{totals[2]:>14}")
    lines.append(f"executions still running: {len(running)}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(ROWS) == len(FAULTS), "every fault ran"
    assert totals[1] == 0
    assert totals[2] == 0
    assert running == []
