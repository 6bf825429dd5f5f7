"""Record each job's end in the jobs table and publish it as an EventBridge event (contract names)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .models import Job, PersistedResult, ProviderTask, StepFailure, ValidatedMedia

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient

EVENT_SOURCE = "avatar.pipeline"
SUCCEEDED_DETAIL_TYPE = "Avatar Video Succeeded"
FAILED_DETAIL_TYPE = "Avatar Video Failed"
MAX_CAUSE_CHARS = 2000


@dataclass(frozen=True)
class Failure:
    error: str
    cause: str


def describe_failure(failure: StepFailure) -> Failure:
    """Step Functions hands over a Lambda failure's cause as the JSON error payload; keep the message."""
    cause = failure.Cause or ""
    try:
        payload = json.loads(cause)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
        cause = payload["errorMessage"]
    cause = cause.strip() or f"the step failed with {failure.Error} and no further detail"
    return Failure(error=failure.Error, cause=cause[:MAX_CAUSE_CHARS])


@dataclass(frozen=True)
class OutcomeStore:
    table: str
    event_bus: str
    dynamodb: DynamoDBClient
    events: EventBridgeClient

    def record_success(
        self,
        job: Job,
        task: ProviderTask,
        media: ValidatedMedia,
        output: PersistedResult,
        *,
        execution_arn: str,
        now: datetime,
    ) -> dict[str, Any]:
        detail = {
            "job_id": job.job_id,
            "provider": job.provider,
            "provider_task_id": task.task_id,
            "output_uri": output.video_uri,
            "result_uri": output.result_uri,
            "duration_seconds": output.duration_seconds,
            "size_bytes": output.size_bytes,
            "estimated_cost_usd": output.estimated_cost_usd,
            "execution_arn": execution_arn,
        }
        already_published = self._update(
            job.job_id,
            execution_arn,
            {
                "status": "SUCCEEDED",
                "provider": job.provider,
                "provider_task_id": task.task_id,
                "output_uri": output.video_uri,
                "result_uri": output.result_uri,
                "media": media.model_dump_json(exclude_none=True),
                "finished_at": now.isoformat(),
            },
        )
        self._publish_once(job.job_id, execution_arn, SUCCEEDED_DETAIL_TYPE, detail, already_published)
        return detail

    def record_failure(
        self,
        failure: Failure,
        *,
        job_id: str,
        provider: str | None,
        task_id: str | None,
        execution_arn: str,
        now: datetime,
    ) -> dict[str, Any]:
        detail = {
            "job_id": job_id,
            "provider": provider,
            "provider_task_id": task_id,
            "error": failure.error,
            "cause": failure.cause,
            "execution_arn": execution_arn,
        }
        attributes: dict[str, str] = {
            "status": "FAILED",
            "error": failure.error,
            "cause": failure.cause,
            "finished_at": now.isoformat(),
        }
        if provider:
            attributes["provider"] = provider
        if task_id:
            attributes["provider_task_id"] = task_id
        already_published = self._update(job_id, execution_arn, attributes)
        self._publish_once(job_id, execution_arn, FAILED_DETAIL_TYPE, detail, already_published)
        return detail

    def _update(self, job_id: str, execution_arn: str, attributes: dict[str, str]) -> str | None:
        """Write only this execution's own record: a duplicate trigger must never touch another's job.

        Returns which outcome event this execution already published (a retried step after a crash).
        """
        attributes = {**attributes, "execution_arn": execution_arn}
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": {"S": value} for i, value in enumerate(attributes.values())}
        assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
        try:
            old = self.dynamodb.update_item(
                TableName=self.table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=f"SET {assignments}",
                ConditionExpression="attribute_not_exists(job_id) OR execution_arn = :me",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":me": {"S": execution_arn}},
                ReturnValues="ALL_OLD",
            )
            return old.get("Attributes", {}).get("published", {}).get("S")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raise RuntimeError(f"job {job_id} belongs to another execution; its record was left untouched") from error

    def _publish_once(
        self, job_id: str, execution_arn: str, detail_type: str, detail: dict[str, Any], already: str | None
    ) -> None:
        """One event per outcome, even when the step is retried after it published (EventBridge itself is
        at-least-once, so consumers should still treat ``job_id`` + detail-type as the event's identity)."""
        if already == detail_type:
            return
        self._publish(detail_type, detail)
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"job_id": {"S": job_id}},
            UpdateExpression="SET published = :type",
            ConditionExpression="execution_arn = :me",
            ExpressionAttributeValues={":type": {"S": detail_type}, ":me": {"S": execution_arn}},
        )

    def _publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        response = self.events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.event_bus,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the {detail_type} event: {response.get('Entries')}")
