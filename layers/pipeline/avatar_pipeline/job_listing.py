"""The operator's questions about jobs, answered with Query on the jobs table's indexes, never a Scan.

- ``status-updated_at-index``: the jobs in one status, by the time their record last changed (``jobs list --status
  FAILED --since 24h``; the reconciler's sweep of records left ``QUEUED`` or ``RUNNING``);
- ``provider-claimed_at-index``: the jobs of one provider, by the time their current attempt was claimed (``jobs
  list --provider kling/avatar --since 7d``, ``costs --since 30d``, one Query per provider).

Both project ``LISTED_FIELDS`` (template.yaml, ``JobsTable``), so a listing or a cost sum reads nothing else. Times
are ISO-8601 UTC strings, as the records hold them, so they compare as text. The operator CLI
(``local/avatar_local/operator/records.py``) queries them by these names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .dynamo import from_item
from .errors import ProviderUnavailable
from .s3errors import aws_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# What both indexes carry besides the keys (job_id, status, updated_at, provider, claimed_at, each projected by the
# index it keys or listed here): a job's listing line and its costs.
LISTED_FIELDS = (
    "job_id",
    "status",
    "provider",
    "attempt",
    "claimed_at",
    "updated_at",
    "finished_at",
    "error",
    "cause",
    "output_uri",
    "provider_task_id",
    "estimated_cost_usd",
    "actual_units",
    "actual_cost_usd",
    "duration_seconds",
    "origin",
    "execution_arn",
)


@dataclass(frozen=True)
class JobIndex:
    name: str
    hash_key: str
    range_key: str


BY_STATUS = JobIndex("status-updated_at-index", "status", "updated_at")
BY_PROVIDER = JobIndex("provider-claimed_at-index", "provider", "claimed_at")


def query_index(
    dynamodb: DynamoDBClient,
    table: str,
    index: JobIndex,
    value: str,
    *,
    since: str | None = None,
    before: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The items whose ``index.hash_key`` is ``value`` and whose ``index.range_key`` is at or after ``since``, or
    before ``before`` (at most one bound), newest first, page after page."""
    names, values = {"#hash": index.hash_key}, {":value": {"S": value}}
    condition = "#hash = :value"
    if since is not None or before is not None:
        if since is not None and before is not None:
            raise ValueError("a key condition bounds the range key once: since or before")
        names["#range"] = index.range_key
        condition += " AND #range >= :bound" if since is not None else " AND #range < :bound"
        values[":bound"] = {"S": str(since if since is not None else before)}
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        IndexName=index.name,
        KeyConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ScanIndexForward=False,
    )
    try:
        for page in pages:
            yield from (from_item(item) for item in page.get("Items", []))
    except ClientError as error:
        raise aws_failure(error, f"querying {index.name} for {value}", permanent=ProviderUnavailable) from error
