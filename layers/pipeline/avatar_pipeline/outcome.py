"""Each attempt's end: its record closed in the jobs table and its outcome event published once (contract names).

A run closes only the attempt it owns. A run that owns nothing (its request was refused because the job id is
taken by another request) publishes its failure, marked ``conflict``, and leaves the job's record untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from .errors import ProviderUnavailable
from .job_metrics import outcome_published
from .jobs import Claim, JobStore
from .models import JobRef, StepFailure
from .redaction import redact
from .s3errors import aws_failure

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

EVENT_SOURCE = "avatar.pipeline"
SUCCEEDED_DETAIL_TYPE = "Avatar Video Succeeded"
FAILED_DETAIL_TYPE = "Avatar Video Failed"
MAX_CAUSE_CHARS = 2000
Ending = Literal["SUCCEEDED", "FAILED", "CANCELLED"]


def describe_failure(failure: StepFailure) -> StepFailure:
    """Step Functions hands over a Lambda failure's cause as the JSON error payload; keep the message (redacted,
    bounded, never empty)."""
    cause = failure.Cause or ""
    try:
        payload = json.loads(cause)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
        cause = payload["errorMessage"]
    cause = redact(cause).strip() or f"the step failed with {failure.Error} and no further detail"
    return StepFailure(Error=failure.Error, Cause=cause[:MAX_CAUSE_CHARS])


@dataclass(frozen=True)
class Outcomes:
    store: JobStore
    events: EventBridgeClient
    event_bus: str
    # Called with the record of every attempt this run closed (or found closed by itself): frees its slot, settles
    # its budget. Never for an attempt another run owns.
    on_end: Callable[[dict[str, Any]], None] = lambda item: None

    def succeeded(
        self,
        ref: JobRef,
        attempt: int,
        execution_arn: str,
        fields: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        """``fields``: what the success adds to the record and the event: output URIs, task id, sizes, costs,
        timings."""
        item = self.close(ref.job_id, attempt, execution_arn, "SUCCEEDED", fields, now)
        detail = {**self._detail(ref.job_id, attempt, item or {}, execution_arn), **fields}
        if item is not None:
            self.on_end(item)
            self.publish_once(ref.job_id, attempt, execution_arn, SUCCEEDED_DETAIL_TYPE, detail, item)
        return detail

    def failed(
        self, ref: JobRef, claim: Claim, failure: StepFailure, execution_arn: str, now: datetime
    ) -> dict[str, Any]:
        """``failure``: as ``describe_failure`` gives it."""
        ending: Ending = "CANCELLED" if failure.Error == "JobCancelled" else "FAILED"
        if claim.outcome != "claimed":
            detail = self._detail(ref.job_id, None, {"provider": ref.provider}, execution_arn, ref)
            detail |= {"error": failure.Error, "cause": failure.Cause}
            if claim.outcome == "refused":
                detail["conflict"] = {"status": claim.status, "attempt": claim.attempt}
            self.publish(FAILED_DETAIL_TYPE, detail)
            return detail
        fields = {"error": failure.Error, "cause": failure.Cause}
        item = self.close(ref.job_id, claim.attempt, execution_arn, ending, fields, now)
        detail = {**self._detail(ref.job_id, claim.attempt, item or {}, execution_arn, ref), **fields}
        if item is not None:
            self.on_end(item)
            self.publish_once(ref.job_id, claim.attempt, execution_arn, FAILED_DETAIL_TYPE, detail, item)
        return detail

    def close(
        self, job_id: str, attempt: int, execution_arn: str, status: Ending, fields: dict[str, Any], now: datetime
    ) -> dict[str, Any] | None:
        """Ends the attempt this run owns; the item afterwards (also when it had ended already), else None."""
        stamp = now.isoformat()
        current = self.store.get(job_id)
        if current is None or current.get("attempt") != attempt or current.get("execution_arn") != execution_arn:
            return None
        if current.get("status") not in ("QUEUED", "RUNNING"):
            return current
        summary = {
            key: current.get(key)
            for key in ("attempt", "request_hash", "origin", "execution_arn", "claimed_at", "provider_task_id")
        } | {"status": status, "finished_at": stamp, **{k: v for k, v in fields.items() if k in _SUMMARY_FIELDS}}
        summary["provider_task_ids"] = _task_ids(current) or None
        summary["possible_provider_task"] = current.get("possible_provider_task") or _in_flight(current)
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        assignments = "".join(f", #f{i} = :f{i}" for i in range(len(fields)))
        closed = self.store.update(
            job_id,
            f"SET #status = :status, finished_at = :now, updated_at = :now{assignments}, "
            "attempts = list_append(if_not_exists(attempts, :empty), :summary)",
            condition="attempt = :attempt AND execution_arn = :me AND #status IN (:queued, :running)",
            names={**names, "#status": "status"},
            values={
                **values,
                ":status": status,
                ":now": stamp,
                ":empty": [],
                ":summary": [{k: v for k, v in summary.items() if v is not None}],
                ":attempt": attempt,
                ":me": execution_arn,
                ":queued": "QUEUED",
                ":running": "RUNNING",
            },
        )
        return closed if closed is not None else self.close(job_id, attempt, execution_arn, status, fields, now)

    def publish_once(
        self,
        job_id: str,
        attempt: int,
        execution_arn: str,
        detail_type: str,
        detail: dict[str, Any],
        item: dict[str, Any],
    ) -> None:
        """One event per attempt's outcome, even when the step is retried after it published (EventBridge itself
        is at-least-once, so consumers should still treat ``job_id`` + ``attempt`` as the event's identity)."""
        if item.get("published") == detail_type:
            return
        self.publish(detail_type, detail)
        self.store.update(
            job_id,
            "SET published = :type",
            condition="attempt = :attempt AND execution_arn = :me",
            values={":type": detail_type, ":attempt": attempt, ":me": execution_arn},
        )
        # Counted once per attempt's outcome: a step retried after this point finds it published.
        outcome_published(detail_type == SUCCEEDED_DETAIL_TYPE, detail)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry: PutEventsRequestEntryTypeDef = {
            "Source": EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str),
            "EventBusName": self.event_bus,
        }
        try:
            response = self.events.put_events(Entries=[entry])
        except ClientError as error:
            raise aws_failure(error, f"publishing {detail_type}", permanent=ProviderUnavailable) from error
        if response.get("FailedEntryCount"):
            raise ProviderUnavailable(f"EventBridge refused the {detail_type} event: {response.get('Entries')}")

    def _detail(
        self,
        job_id: str,
        attempt: int | None,
        item: dict[str, Any],
        execution_arn: str,
        ref: JobRef | None = None,
    ) -> dict[str, Any]:
        origin = item.get("origin") or (ref.origin.model_dump(mode="json", exclude_none=True) if ref else None)
        detail: dict[str, Any] = {
            "job_id": job_id,
            "attempt": attempt,
            "provider": item.get("provider") or (ref.provider if ref else None),
            "provider_task_id": item.get("provider_task_id"),
            "trigger": {key: value for key, value in (origin or {}).items() if key != "delivery_id"} or None,
            "execution_arn": execution_arn,
        }
        possible = item.get("possible_provider_task") or _in_flight(item)
        if possible:
            detail["possible_provider_task"] = possible
        return detail


_SUMMARY_FIELDS = frozenset(
    {"error", "cause", "output_uri", "result_uri", "provider_task_id", "estimated_cost_usd", "actual_cost_usd"}
)


def _task_ids(item: dict[str, Any]) -> list[str]:
    """Every provider task the attempt created, stage by stage (Volcengine's subject check, then its video)."""
    submissions = (item.get("submissions") or {}).values()
    return [str(s["task_id"]) for s in submissions if isinstance(s, dict) and s.get("task_id")]


def _in_flight(item: dict[str, Any]) -> dict[str, Any] | None:
    """A submission that was sent and never answered: the record names it, since a task may exist."""
    for submission in (item.get("submissions") or {}).values():
        if isinstance(submission, dict) and submission.get("state") == "intent":
            return {
                "provider": submission.get("provider"),
                "stage": submission.get("stage"),
                "submitted_at": submission.get("intent_at"),
                "external_id": submission.get("external_id"),
                "inputs": submission.get("inputs"),
                "reason": "the run ended while this submission was unanswered",
            }
    return None
