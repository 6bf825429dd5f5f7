"""The jobs table (contract: Job lifecycle): one item per job id, its attempts, and which run owns the current one.

A run may write a job only while it owns the job's current attempt (``attempt`` and ``execution_arn`` match);
everything else it learns is read, never overwritten. Claiming is a conditional write, retried on a race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel

from .dynamo import from_item, to_value
from .errors import ProviderUnavailable
from .job_listing import BY_STATUS, query_index
from .models import JobRef
from .s3errors import aws_failure, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ACTIVE_STATUSES = ("QUEUED", "RUNNING")
ENDED_STATUSES = ("FAILED", "CANCELLED")
# What one attempt leaves on the item; a new attempt starts without it (each attempt's summary is in ``attempts``).
ATTEMPT_RESULT_FIELDS = (
    "finished_at",
    "error",
    "cause",
    "output_uri",
    "result_uri",
    "provider_task_id",
    "estimated_cost_usd",
    "actual_units",
    "actual_cost_usd",
    "budget_day",
    "queue",
    "queued_seconds",
    "published",
    "possible_provider_task",
)
MAX_ATTEMPTS = 100
MAX_CLAIM_RACES = 5
EXECUTION_INDEX = "execution_arn-index"


class Claim(BaseModel):
    """What Claim decided; ``duplicate`` and ``refused`` describe the job as it already is."""

    outcome: Literal["claimed", "duplicate", "refused"]
    job_id: str
    attempt: int
    status: str
    execution_arn: str | None = None
    output_uri: str | None = None
    result_uri: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class JobStore:
    table: str
    dynamodb: DynamoDBClient

    def claim(self, ref: JobRef, execution_arn: str, now: datetime) -> Claim:
        for _race in range(MAX_CLAIM_RACES):
            if self._create(ref, execution_arn, now):
                return Claim(outcome="claimed", job_id=ref.job_id, attempt=1, status="RUNNING")
            item = self.get(ref.job_id)
            if item is None:
                continue  # removed between the two calls
            decided = _decide(item, ref, execution_arn)
            if decided is not None:
                return decided
            if self._next_attempt(ref, item, execution_arn, now):
                return Claim(outcome="claimed", job_id=ref.job_id, attempt=int(item["attempt"]) + 1, status="RUNNING")
        raise ProviderUnavailable(f"job {ref.job_id} kept changing while it was being claimed; retried")

    def get(self, job_id: str) -> dict[str, Any] | None:
        try:
            found = self.dynamodb.get_item(TableName=self.table, Key=_key(job_id), ConsistentRead=True)
        except ClientError as error:
            raise aws_failure(error, f"reading job {job_id}", permanent=ProviderUnavailable) from error
        return from_item(found["Item"]) if "Item" in found else None

    def update(
        self,
        job_id: str,
        expression: str,
        *,
        condition: str | None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """One UpdateItem; the item after it, or None when ``condition`` did not hold."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(job_id),
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            request["ConditionExpression"] = condition
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = {name: to_value(value) for name, value in values.items()}
        try:
            response = self.dynamodb.update_item(**request)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise aws_failure(error, f"updating job {job_id}", permanent=ProviderUnavailable) from error
        return from_item(response["Attributes"])

    def for_execution(self, execution_arn: str) -> dict[str, Any] | None:
        """The job whose current attempt this execution owns, if any (read through the execution index)."""
        try:
            found = self.dynamodb.query(
                TableName=self.table,
                IndexName=EXECUTION_INDEX,
                KeyConditionExpression="execution_arn = :arn",
                ExpressionAttributeValues={":arn": {"S": execution_arn}},
            )
        except ClientError as error:
            raise aws_failure(error, f"finding the job of {execution_arn}", permanent=ProviderUnavailable) from error
        items = found.get("Items", [])
        return self.get(str(from_item(items[0])["job_id"])) if items else None

    def open_jobs(self, older_than: str) -> list[str]:
        """Ids of jobs still QUEUED or RUNNING whose record has not changed since ``older_than`` (ISO time)."""
        return [
            str(item["job_id"])
            for status in ACTIVE_STATUSES
            for item in query_index(self.dynamodb, self.table, BY_STATUS, status, before=older_than)
        ]

    def _create(self, ref: JobRef, execution_arn: str, now: datetime) -> bool:
        item = {**_attempt_fields(ref, execution_arn, now), "job_id": ref.job_id, "attempt": 1, "attempts": []}
        item["deliveries"] = {ref.origin.delivery_id}
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={name: to_value(value) for name, value in item.items() if value is not None},
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise aws_failure(error, f"claiming job {ref.job_id}", permanent=ProviderUnavailable) from error
        return True

    def _next_attempt(self, ref: JobRef, item: dict[str, Any], execution_arn: str, now: datetime) -> bool:
        fields = {key: value for key, value in _attempt_fields(ref, execution_arn, now).items() if value is not None}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        assignments = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        cleared = [*ATTEMPT_RESULT_FIELDS, *([] if ref.request_hash else ["request_hash"])]
        names |= {f"#r{i}": name for i, name in enumerate(cleared)}
        removals = ", ".join(f"#r{i}" for i in range(len(cleared)))
        updated = self.update(
            ref.job_id,
            f"SET {assignments}, #attempt = :next ADD #deliveries :delivery REMOVE {removals}",
            condition="#attempt = :seen AND #status = :seen_status",
            names={**names, "#status": "status", "#attempt": "attempt", "#deliveries": "deliveries"},
            values={
                **values,
                ":next": int(item["attempt"]) + 1,
                ":delivery": {ref.origin.delivery_id},
                ":seen": int(item["attempt"]),
                ":seen_status": item["status"],
            },
        )
        return updated is not None


def _decide(item: dict[str, Any], ref: JobRef, execution_arn: str) -> Claim | None:
    """Duplicate, refused, or ours already; None when the job may start a new attempt."""
    attempt, status = int(item["attempt"]), str(item["status"])
    if item.get("execution_arn") == execution_arn:
        return Claim(outcome="claimed", job_id=ref.job_id, attempt=attempt, status=status)
    seen = Claim(
        outcome="duplicate",
        job_id=ref.job_id,
        attempt=attempt,
        status=status,
        execution_arn=item.get("execution_arn"),
        output_uri=item.get("output_uri"),
        result_uri=item.get("result_uri"),
    )
    if ref.origin.delivery_id in item.get("deliveries", set()):
        return seen.model_copy(update={"reason": "this trigger was already delivered and handled"})
    if status not in ENDED_STATUSES:
        if ref.request_hash is not None and ref.request_hash == item.get("request_hash"):
            return seen.model_copy(update={"reason": f"the same request is already {status}"})
        what = "a different request" if ref.request_hash else "a request that is not valid"
        return seen.model_copy(
            update={
                "outcome": "refused",
                "reason": f"job {ref.job_id} is already {status} (attempt {attempt}) with another request; "
                f"{what} under the same job_id is refused and nothing was submitted. Use a new job_id, or wait "
                "until it has failed or been cancelled to re-run it",
            }
        )
    if attempt >= MAX_ATTEMPTS:
        return seen.model_copy(
            update={"outcome": "refused", "reason": f"job {ref.job_id} has had {attempt} attempts; use a new job_id"}
        )
    return None


def _attempt_fields(ref: JobRef, execution_arn: str, now: datetime) -> dict[str, Any]:
    stamp = now.isoformat()
    return {
        "status": "RUNNING",
        "request_hash": ref.request_hash,
        "provider": ref.provider,
        "origin": ref.origin.model_dump(mode="json", exclude_none=True),
        "execution_arn": execution_arn,
        "claimed_at": stamp,
        "updated_at": stamp,
        "submissions": {},
    }


def _key(job_id: str) -> dict[str, Any]:
    return {"job_id": {"S": job_id}}
