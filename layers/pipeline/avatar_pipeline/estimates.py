"""Learned generation times: per provider id (each WaveSpeed model apart, though they share an account), an
exponentially weighted average of observed ÷ profile-estimated generation time, the ``correction``, in the admission
table (pk ``estimate#<provider id>``).

Submit multiplies the profile's estimate (seconds per audio second times audio seconds) by it with one GetItem; the end
of a successful job moves it toward what that job took. Neither ever fails a job: a missing or unreadable item means
the profile alone, and a lost update loses one observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .dynamo import from_item, to_value
from .models import ProviderTask
from .observability import logger
from .s3errors import error_code
from .timings import provider_generation_seconds

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ESTIMATE = "estimate#"
SORT_KEY = "estimate"
# However wrong one job's time, the estimate stays within these multiples of the profile.
MIN_CORRECTION, MAX_CORRECTION = 0.25, 4.0
WEIGHT = 0.2  # a new observation's weight, once the average has seen enough of them
UPDATE_TRIES = 3


def bounded(correction: float) -> float:
    return min(MAX_CORRECTION, max(MIN_CORRECTION, correction))


def blended(correction: float, samples: int, observed: float) -> float:
    """The average after one more observation. The profile counts as one: the first jobs move it fast (by ½, ⅓, …),
    later ones by ``WEIGHT``."""
    weight = max(WEIGHT, 1.0 / (samples + 2))
    return bounded((1.0 - weight) * correction + weight * bounded(observed))


def observed_ratio(task: ProviderTask) -> float | None:
    """What the finished task took ÷ its profile estimate; None without a reliable time (audio of unknown length,
    no completion time). The provider's own completion time where it reports one, else what the checks tell."""
    if task.status != "succeeded" or not task.profile_estimate_seconds or task.profile_estimate_seconds <= 0:
        return None
    seconds = provider_generation_seconds(task)
    if seconds is None:
        seconds = task.observed_generation_seconds
    if seconds is None and task.detected_at is not None:
        seconds = (task.detected_at - task.submitted_at).total_seconds()
    if seconds is None or seconds <= 0:
        return None
    return seconds / task.profile_estimate_seconds


@dataclass(frozen=True)
class EstimateStore:
    table: str
    dynamodb: DynamoDBClient

    def correction(self, provider: str) -> float:
        """The learned correction of ``provider``'s profile; 1.0 when nothing was learned or it cannot be read."""
        try:
            item = self._get(provider, consistent=False)
        except (ClientError, BotoCoreError) as error:
            logger.warning("learned estimate unreadable", extra={"provider": provider, "error": str(error)})
            return 1.0
        return bounded(float(item.get("correction", 1.0))) if item else 1.0

    def learn(self, task: ProviderTask, job_key: str, now: datetime) -> float | None:
        """Moves the provider's correction toward what ``task`` took; the new correction, or None if nothing was
        learned. ``job_key`` names the attempt, so a retried step does not count it twice."""
        ratio = observed_ratio(task)
        if ratio is None:
            return None
        try:
            return self._learn(task.provider, ratio, job_key, now)
        except (ClientError, BotoCoreError) as error:
            logger.warning("learned estimate not updated", extra={"provider": task.provider, "error": str(error)})
            return None

    def _learn(self, provider: str, ratio: float, job_key: str, now: datetime) -> float | None:
        for _ in range(UPDATE_TRIES):
            item = self._get(provider, consistent=True)
            if item and item.get("last_job") == job_key:
                return None
            samples = int(item.get("samples", 0)) if item else 0
            correction = blended(float(item.get("correction", 1.0)) if item else 1.0, samples, ratio)
            # Read, then write only if nobody wrote in between: UpdateItem cannot compute a weighted average itself.
            condition = "samples = :seen" if item else "attribute_not_exists(pk)"
            values = {":c": correction, ":n": samples + 1, ":job": job_key, ":now": now.isoformat()}
            try:
                self.dynamodb.update_item(
                    TableName=self.table,
                    Key=self._key(provider),
                    UpdateExpression="SET correction = :c, samples = :n, last_job = :job, updated_at = :now",
                    ConditionExpression=condition,
                    ExpressionAttributeValues={
                        name: to_value(value) for name, value in (values | ({":seen": samples} if item else {})).items()
                    },
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                continue
            return correction
        logger.info("learned estimate busy: one observation skipped", extra={"provider": provider})
        return None

    def _get(self, provider: str, *, consistent: bool) -> dict[str, Any] | None:
        found = self.dynamodb.get_item(TableName=self.table, Key=self._key(provider), ConsistentRead=consistent)
        return from_item(found["Item"]) if "Item" in found else None

    def _key(self, provider: str) -> dict[str, Any]:
        return {"pk": {"S": ESTIMATE + provider}, "sk": {"S": SORT_KEY}}
