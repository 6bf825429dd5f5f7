"""Executions that end outside the state machine's own failure path (stopped, timed out, failed past a Catch)
close their job's record and publish its event here, from Step Functions' status-change events; a scheduled
sweep does the same for records whose event never came. No job stays QUEUED or RUNNING without a live execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .job_ids import execution_ref
from .jobs import ACTIVE_STATUSES, Claim, JobStore
from .models import JobRef, Origin, StepFailure
from .outcome import MAX_CAUSE_CHARS, Outcomes

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# A record this long without a change, whose execution has ended, is closed by the sweep.
SWEEP_AFTER = timedelta(minutes=5)
NOT_CANCELLED_AT_PROVIDER = (
    "no provider offers to cancel a started task, so a task already created may still finish and be billed; "
    "its id is in the job's record"
)


class ExecutionEnd(BaseModel):
    """The detail of a ``Step Functions Execution Status Change`` event (the fields used here)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    execution_arn: str = Field(alias="executionArn")
    name: str
    status: str
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class Reconciler:
    store: JobStore
    outcomes: Outcomes

    def execution_ended(self, end: ExecutionEnd, now: datetime) -> str:
        """What was done, in a few words (for the log)."""
        failure = _failure(end)
        if failure is None:
            return f"{end.status}: nothing to reconcile"
        item = self.store.for_execution(end.execution_arn)
        if item is not None:
            if item.get("status") not in ACTIVE_STATUSES:
                return f"job {item['job_id']} was already closed ({item.get('status')})"
            self._close(item, end.execution_arn, failure, now)
            return f"job {item['job_id']} attempt {item['attempt']} closed: {failure.Error}"
        if end.status == "FAILED":
            return "no open job: the run failed through its own failure path"
        # Stopped or timed out before claiming a job: what is known is the execution.
        ref = execution_ref(end.name)
        claim = self.store.claim(ref, end.execution_arn, now)
        self.outcomes.failed(ref, claim, failure, end.execution_arn, now)
        return f"{ref.job_id} recorded: {failure.Error}"

    def sweep(self, sfn: SFNClient, now: datetime) -> list[str]:
        done = []
        for job_id in self.store.open_jobs((now - SWEEP_AFTER).isoformat()):
            item = self.store.get(job_id)
            arn = item.get("execution_arn") if item else None
            if not item or not arn or item.get("status") not in ACTIVE_STATUSES:
                continue
            described = sfn.describe_execution(executionArn=str(arn))
            if described["status"] == "RUNNING":
                continue
            end = ExecutionEnd.model_validate(
                {
                    "executionArn": str(arn),
                    "name": described["name"],
                    "status": described["status"],
                    "error": described.get("error"),
                    "cause": described.get("cause"),
                }
            )
            done.append(self.execution_ended(end, now))
        return done

    def _close(self, item: dict[str, Any], execution_arn: str, failure: StepFailure, now: datetime) -> None:
        ref = JobRef(
            job_id=str(item["job_id"]),
            origin=Origin.model_validate(item.get("origin") or {"kind": "console", "delivery_id": execution_arn}),
            provider=item.get("provider"),
            request_hash=item.get("request_hash"),
        )
        claim = Claim(outcome="claimed", job_id=ref.job_id, attempt=int(item["attempt"]), status=str(item["status"]))
        self.outcomes.failed(ref, claim, failure, execution_arn, now)


def _failure(end: ExecutionEnd) -> StepFailure | None:
    detail = (end.cause or "").strip()
    if end.status == "ABORTED":
        said = f" ({end.error}: {detail})" if end.error or detail else ""
        return StepFailure(
            Error="JobCancelled",
            Cause=f"the execution was stopped{said}; {NOT_CANCELLED_AT_PROVIDER}"[:MAX_CAUSE_CHARS],
        )
    if end.status == "TIMED_OUT":
        return StepFailure(Error="JobTimedOut", Cause="the execution ran past the state machine's TimeoutSeconds")
    if end.status == "FAILED":
        return StepFailure(
            Error=end.error or "States.Runtime",
            Cause=(detail or "the execution failed past its Catch")[:MAX_CAUSE_CHARS],
        )
    return None
