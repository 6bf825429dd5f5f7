"""What an operator command reads from and starts in Step Functions: a job's execution history (its state, status
checks, estimate, and the request intake resolved) and new executions of a job request."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from .target import OperatorStack

STATUS_CHECK_STATES = ("CheckStatus",)
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ExecutionProgress:
    """A job's execution as its history tells it."""

    status: str
    state: str | None  # the state it is in (or last left)
    status_checks: int
    submitted_at: str | None
    estimated_generation_seconds: float | None


def history(stack: OperatorStack, execution_arn: str) -> list[dict[str, Any]]:
    pages = stack.client("stepfunctions").get_paginator("get_execution_history")
    return [event for page in pages.paginate(executionArn=execution_arn) for event in page["events"]]


def progress(stack: OperatorStack, execution_arn: str) -> ExecutionProgress:
    status = str(stack.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"])
    return progress_of(status, history(stack, execution_arn))


def progress_of(status: str, events: list[dict[str, Any]]) -> ExecutionProgress:
    state, checks = None, 0
    task: dict[str, Any] = {}
    for event in events:
        entered = event.get("stateEnteredEventDetails")
        if entered:
            state = str(entered["name"])
            checks += state in STATUS_CHECK_STATES
        exited = event.get("stateExitedEventDetails")
        if exited and exited["name"] == "Submit":
            task = (json.loads(exited.get("output") or "{}") or {}).get("task") or task
    estimate = task.get("estimated_generation_seconds")
    return ExecutionProgress(
        status=status,
        state=state,
        status_checks=checks,
        submitted_at=task.get("submitted_at"),
        estimated_generation_seconds=float(estimate) if estimate is not None else None,
    )


def intake_request(stack: OperatorStack, execution_arn: str, job_id: str) -> dict[str, Any] | None:
    """The job request as intake resolved it (media as absolute URIs), or None if intake refused it."""
    for event in history(stack, execution_arn):
        exited = event.get("stateExitedEventDetails")
        if exited and exited["name"] == "Intake":
            job = (json.loads(exited.get("output") or "{}") or {}).get("job")
            return _absolute_request(job, job_id) if job else None
    return None


def _absolute_request(job: dict[str, Any], job_id: str) -> dict[str, Any]:
    request = {name: value for name, value in job["request"].items() if value not in (None, {}, [])}
    for medium in ("image", "audio"):
        source = job.get(medium) or {}
        if source.get("s3"):
            request[medium] = f"s3://{source['s3']['bucket']}/{source['s3']['key']}"
        elif source.get("url"):
            request[medium] = source["url"]
    return {**request, "provider": job["provider"], "job_id": job_id}


def start_job(stack: OperatorStack, request: dict[str, Any], *, name: str) -> str:
    """StartExecution with the request as input (the console entry point); the name says where it came from."""
    sfn = stack.client("stepfunctions")
    safe = _NAME_UNSAFE.sub("-", f"{request.get('job_id') or 'job'}")[:48]
    execution_name = f"{safe}-{name}-{uuid.uuid4().hex[:8]}"
    started = sfn.start_execution(
        stateMachineArn=stack.state_machine_arn, name=execution_name, input=json.dumps(request)
    )
    return str(started["executionArn"])
