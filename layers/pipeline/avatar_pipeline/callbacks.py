"""Provider callbacks (contract: Callbacks): one item per job attempt in the admission table, holding the attempt's
callback path token, the Step Functions task token of the wait in progress, and the verified outcome once a callback
brought one. Whichever of the two arrives second resumes the execution, so a callback that comes before the wait
began is not lost, and a duplicate, late or replayed one resumes nothing that is not waiting for it.

The path token is ours (random, per attempt) and is all a callback URL carries; the task token never leaves this
item and the execution. Both are registered with the redactor as soon as they are known.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel

from .dynamo import from_item, to_value
from .models import ProviderTask
from .provider_accounts import account_of
from .redaction import register

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PATH_PREFIX = "callbacks"
# Kept for a week after the attempt's route was made: longer than any job may run (JobDeadlineSeconds ≤ 3 days).
RETENTION_SECONDS = 7 * 86400


class CallbackOutcome(BaseModel):
    """What a verified callback established about the attempt's task."""

    task_id: str
    status: Literal["succeeded", "failed"]
    cause: str = ""
    reported_units: float | None = None
    received_at: datetime
    provider_completed_at: datetime | None = None  # when the provider says the task finished, where it says so


@dataclass(frozen=True)
class CallbackRecord:
    provider: str
    path_token: str
    task_token: str | None
    task: ProviderTask | None
    outcome: CallbackOutcome | None

    @classmethod
    def of(cls, item: dict[str, Any]) -> CallbackRecord:
        plain = from_item(item)
        register(plain.get("path_token"), plain.get("task_token"))
        task, outcome = plain.get("task"), plain.get("outcome")
        return cls(
            provider=str(plain.get("provider", "")),
            path_token=str(plain.get("path_token", "")),
            task_token=plain.get("task_token"),
            task=ProviderTask.model_validate_json(task) if task else None,
            outcome=CallbackOutcome.model_validate_json(outcome) if outcome else None,
        )

    def matches(self, path_token: str) -> bool:
        return bool(self.path_token) and hmac.compare_digest(self.path_token.encode(), path_token.encode())


def callback_url(webhook_url: str, provider: str, job_id: str, attempt: int, path_token: str) -> str:
    base = webhook_url.rstrip("/")
    return f"{base}/{PATH_PREFIX}/{account_of(provider)}/{quote(job_id, safe='')}/{attempt}/{path_token}"


class CallbackStore:
    def __init__(self, table: str, dynamodb: DynamoDBClient) -> None:
        self.table, self.dynamodb = table, dynamodb

    def route(self, provider: str, job_id: str, attempt: int, now: datetime) -> str:
        """The attempt's path token: made on first use, the same on every later call (a retried submit)."""
        item = self._update(
            job_id,
            attempt,
            "SET path_token = if_not_exists(path_token, :token), expires_at = if_not_exists(expires_at, :expires), "
            "provider = :provider",
            {
                ":token": secrets.token_urlsafe(32),
                ":expires": int(now.timestamp()) + RETENTION_SECONDS,
                ":provider": provider,
            },
        )
        return CallbackRecord.of(item).path_token

    def load(self, job_id: str, attempt: int) -> CallbackRecord | None:
        answer = self.dynamodb.get_item(TableName=self.table, Key=_key(job_id, attempt), ConsistentRead=True)
        return CallbackRecord.of(answer["Item"]) if "Item" in answer else None

    def arm(self, job_id: str, attempt: int, task_token: str, task: ProviderTask) -> CallbackRecord:
        """The wait in progress: its task token, and the task as the execution knows it."""
        register(task_token)
        expression = "SET task_token = :token, task = :task"
        item = self._update(job_id, attempt, expression, {":token": task_token, ":task": task.model_dump_json()})
        return CallbackRecord.of(item)

    def settle(self, job_id: str, attempt: int, outcome: CallbackOutcome) -> CallbackRecord:
        """Record the verified outcome once; a later callback (a duplicate, a replay) leaves the first in place."""
        item = self._update(
            job_id, attempt, "SET outcome = if_not_exists(outcome, :outcome)", {":outcome": outcome.model_dump_json()}
        )
        return CallbackRecord.of(item)

    def _update(self, job_id: str, attempt: int, expression: str, values: dict[str, Any]) -> dict[str, Any]:
        answer = self.dynamodb.update_item(
            TableName=self.table,
            Key=_key(job_id, attempt),
            UpdateExpression=expression,
            ExpressionAttributeValues={name: to_value(value) for name, value in values.items()},
            ReturnValues="ALL_NEW",
        )
        return answer["Attributes"]


def _key(job_id: str, attempt: int) -> dict[str, Any]:
    return {"pk": {"S": f"callback#{job_id}"}, "sk": {"S": f"attempt#{attempt}"}}
