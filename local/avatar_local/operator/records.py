"""Reading the jobs table the way an operator asks: one job, a list by status or provider over a time window (index
queries, never a Scan), and the ``--since`` windows those take."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from avatar_pipeline.capabilities import CAPABILITIES
from avatar_pipeline.job_listing import BY_PROVIDER, BY_STATUS, JobIndex, query_index
from boto3.dynamodb.types import TypeDeserializer

from .target import OperatorStack, UsageError

STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
ACTIVE = ("QUEUED", "RUNNING")
_WINDOW = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since(text: str, now: datetime | None = None) -> datetime:
    """``90m``, ``24h``, ``30d``, ``2w`` back from now, or an ISO-8601 time."""
    now = now or datetime.now(UTC)
    matched = _WINDOW.match(text.strip())
    if matched:
        return now - timedelta(**{_UNITS[matched.group(2)]: int(matched.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"--since expects 90m, 24h, 30d, 2w or an ISO time, got {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def plain(value: Any) -> Any:
    """A DynamoDB value as JSON would have it: Decimals as int or float, sets as sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(item) for item in value)
    return value


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    deserializer = TypeDeserializer()
    return {name: plain(deserializer.deserialize(value)) for name, value in item.items()}


def get_job(stack: OperatorStack, job_id: str) -> dict[str, Any] | None:
    found = stack.client("dynamodb").get_item(
        TableName=stack.jobs_table, Key={"job_id": {"S": job_id}}, ConsistentRead=True
    )
    return _from_item(found["Item"]) if "Item" in found else None


def get_jobs(stack: OperatorStack, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Many jobs by id, a hundred per BatchGetItem, unprocessed keys asked again."""
    dynamodb, wanted, found = stack.client("dynamodb"), list(dict.fromkeys(job_ids)), {}
    for start in range(0, len(wanted), 100):
        keys = [{"job_id": {"S": job_id}} for job_id in wanted[start : start + 100]]
        while keys:
            answer = dynamodb.batch_get_item(RequestItems={stack.jobs_table: {"Keys": keys}})
            for item in answer["Responses"].get(stack.jobs_table, []):
                job = _from_item(item)
                found[str(job["job_id"])] = job
            keys = answer.get("UnprocessedKeys", {}).get(stack.jobs_table, {}).get("Keys", [])
    return found


def list_jobs(
    stack: OperatorStack, *, status: str | None, provider: str | None, after: datetime
) -> list[dict[str, Any]]:
    """Jobs by status (updated since ``after``) or by provider (claimed since ``after``), newest first."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"--status expects one of {', '.join(STATUSES)}, got {status!r}")
    if provider is not None and provider not in CAPABILITIES:
        raise UsageError(f"--provider expects one of {', '.join(sorted(CAPABILITIES))}, got {provider!r}")
    if provider is not None:
        jobs = list(_query(stack, BY_PROVIDER, provider, after))
        jobs = [job for job in jobs if status is None or job.get("status") == status]
    else:
        jobs = [job for each in ((status,) if status else STATUSES) for job in _query(stack, BY_STATUS, each, after)]
    return sorted(jobs, key=lambda job: str(job.get("updated_at", "")), reverse=True)


def jobs_by_provider(stack: OperatorStack, after: datetime) -> list[dict[str, Any]]:
    """Every job claimed since ``after``, one index query per provider."""
    return [job for provider in sorted(CAPABILITIES) for job in _query(stack, BY_PROVIDER, provider, after)]


def _query(stack: OperatorStack, index: JobIndex, value: str, after: datetime) -> Iterator[dict[str, Any]]:
    found = query_index(stack.client("dynamodb"), stack.jobs_table, index, value, since=after.isoformat())
    return (plain(job) for job in found)
