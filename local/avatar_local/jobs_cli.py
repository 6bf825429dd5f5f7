"""``avatar-pipeline jobs cancel JOB_ID``: stop a job's execution; the reconciler closes it as CANCELLED.

Exit codes (contract): 0 done, 1 the job could not be cancelled (it had already ended), 2 bad usage or no stack.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from .executions import aws_client
from .stack import StackInfo

CANCEL_ERROR = "JobCancelled"
ACTIVE = ("QUEUED", "RUNNING")


class UsageError(Exception):
    """Bad usage or no stack: exit code 2, one line, no traceback."""


def cancel(job_id: str, *, state_dir: Path, wait_seconds: float, as_json: bool) -> int:
    try:
        info = StackInfo.load(state_dir)
    except (FileNotFoundError, ValueError, TypeError) as error:
        raise UsageError(str(error)) from error
    try:
        return _cancel(info, job_id, wait_seconds, as_json)
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"the stack at {info.endpoint_url} did not answer: {type(error).__name__}") from error


def _cancel(info: StackInfo, job_id: str, wait_seconds: float, as_json: bool) -> int:
    record = _record(info, job_id)
    if record is None:
        raise UsageError(f"no job {job_id} in {info.jobs_table}")
    if record.get("status") not in ACTIVE:
        _say(
            as_json,
            {"job_id": job_id, "status": record.get("status"), "cancelled": False},
            f"job {job_id} is already {record.get('status')}; nothing to cancel",
        )
        return 1
    execution_arn = str(record["execution_arn"])
    sfn = aws_client(info, "stepfunctions")
    try:
        sfn.stop_execution(
            executionArn=execution_arn,
            error=CANCEL_ERROR,
            cause=f"job {job_id} was cancelled with avatar-pipeline jobs cancel",
        )
    except sfn.exceptions.ExecutionDoesNotExist as error:
        raise UsageError(f"job {job_id}'s execution {execution_arn} does not exist") from error
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and record.get("status") in ACTIVE:
        time.sleep(0.5)
        record = _record(info, job_id) or record
    outcome = {
        "job_id": job_id,
        "attempt": int(record.get("attempt", 0)),
        "status": record.get("status"),
        "execution_arn": execution_arn,
        "provider_task_id": record.get("provider_task_id"),
        "cancelled": record.get("status") == "CANCELLED",
    }
    if record.get("status") in ACTIVE:
        _say(as_json, outcome, f"stopped {execution_arn}; job {job_id} will be recorded CANCELLED shortly")
    else:
        _say(as_json, outcome, f"job {job_id} attempt {record.get('attempt')} is {record.get('status')}")
    return 0


def _record(info: StackInfo, job_id: str) -> dict[str, Any] | None:
    item = (
        aws_client(info, "dynamodb")
        .get_item(TableName=info.jobs_table, Key={"job_id": {"S": job_id}}, ConsistentRead=True)
        .get("Item")
    )
    if item is None:
        return None
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


def _say(as_json: bool, document: dict[str, Any], line: str) -> None:
    print(json.dumps(document) if as_json else line, flush=True)
