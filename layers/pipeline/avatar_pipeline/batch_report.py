"""ReportBatch (contract: Batches): once every row has ended, one report of the batch and ``Avatar Batch Completed``.

The rows' outcomes are read from the jobs table, not from the Map's results: the table is where each job's end is
recorded however it ended (including by the reconciler), and a row sharing a job id with an earlier run reports that
job as it is now. Re-running the step rewrites the same reports (a new S3 object version) and publishes the event
again; consumers treat ``batch_id`` as the event's identity.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from .batch_items import BATCH_ITEMS, BatchItem, BatchSummary
from .dynamo import from_item
from .errors import InvalidRequest, ProviderUnavailable
from .outcome import EVENT_SOURCE
from .s3errors import aws_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client

BATCH_COMPLETED_DETAIL_TYPE = "Avatar Batch Completed"
REPORT_COLUMNS = (
    "row",
    "job_id",
    "status",
    "attempt",
    "error",
    "cause",
    "output_uri",
    "estimated_cost_usd",
    "actual_cost_usd",
)
# Every status is counted, zero or not, so a consumer can read counts["FAILED"] without a default.
STATUSES = ("SUCCEEDED", "FAILED", "CANCELLED", "RUNNING", "QUEUED", "MISSING")
MISSING = "MISSING"
KEYS_PER_BATCH_GET = 100
MAX_BATCH_GET_ROUNDS = 8
_RECORD_FIELDS = REPORT_COLUMNS[1:]  # all but "row"
# A spreadsheet runs a cell that starts with one of these as a formula; report.csv quotes such text with a "'".
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ReportEntry(BaseModel):
    row: int
    job_id: str
    status: str
    attempt: int | None = None
    error: str | None = None
    cause: str | None = None
    output_uri: str | None = None
    estimated_cost_usd: float | None = None
    actual_cost_usd: float | None = None


class BatchCompleted(BaseModel):
    """The ``Avatar Batch Completed`` detail, and ReportBatch's output."""

    batch_id: str
    name: str
    source: str
    rows: int
    counts: dict[str, int]
    report_uri: str
    report_csv_uri: str


def report_batch(
    summary: BatchSummary,
    *,
    s3: S3Client,
    dynamodb: DynamoDBClient,
    events: EventBridgeClient,
    input_bucket: str,
    output_bucket: str,
    jobs_table: str,
    event_bus: str,
) -> BatchCompleted:
    """Writes ``report.json`` and ``report.csv`` to ``s3://<output_bucket>/batches/<name>/<batch_id>/`` and
    publishes ``Avatar Batch Completed``. A row without a job record is reported (and counted) as ``MISSING``."""
    if summary.items.bucket != input_bucket:
        raise InvalidRequest(f"the items of batch {summary.batch.batch_id} must be in the input bucket {input_bucket}")
    items = read_items(s3, summary.items.bucket, summary.items.key)
    records = job_records(dynamodb, jobs_table, [item.job_id for item in items])
    entries = [_entry(item, records.get(item.job_id)) for item in items]
    counts = dict.fromkeys(STATUSES, 0) | Counter(entry.status for entry in entries)
    folder = f"batches/{summary.batch.name}/{summary.batch.batch_id}/"
    completed = BatchCompleted(
        batch_id=summary.batch.batch_id,
        name=summary.batch.name,
        source=summary.batch.key,
        rows=len(entries),
        counts=counts,
        report_uri=f"s3://{output_bucket}/{folder}report.json",
        report_csv_uri=f"s3://{output_bucket}/{folder}report.csv",
    )
    document = {
        "batch": summary.batch.model_dump(mode="json"),
        "rows": len(entries),
        "counts": counts,
        "entries": [entry.model_dump(mode="json") for entry in entries],
    }
    report_json = json.dumps(document, ensure_ascii=False).encode()
    _put(s3, output_bucket, f"{folder}report.json", report_json, "application/json")
    _put(s3, output_bucket, f"{folder}report.csv", report_csv(entries), "text/csv; charset=utf-8")
    _publish(events, event_bus, completed)
    return completed


def read_items(s3: S3Client, bucket: str, key: str) -> list[BatchItem]:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"reading the batch items s3://{bucket}/{key}") from error
    return BATCH_ITEMS.validate_json(body)


def job_records(dynamodb: DynamoDBClient, table: str, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The records of ``job_ids`` by id (absent ones left out), read ``KEYS_PER_BATCH_GET`` at a time, with
    consistent reads; keys DynamoDB leaves unprocessed are asked again with backoff."""
    unique = list(dict.fromkeys(job_ids))  # BatchGetItem refuses a request that repeats a key
    names = {f"#a{i}": name for i, name in enumerate(_RECORD_FIELDS)}
    records: dict[str, dict[str, Any]] = {}
    for start in range(0, len(unique), KEYS_PER_BATCH_GET):
        pending: dict[str, Any] = {
            table: {
                "Keys": [{"job_id": {"S": job_id}} for job_id in unique[start : start + KEYS_PER_BATCH_GET]],
                "ConsistentRead": True,
                "ProjectionExpression": ", ".join(names),
                "ExpressionAttributeNames": names,
            }
        }
        for round_number in range(MAX_BATCH_GET_ROUNDS):
            try:
                response = dynamodb.batch_get_item(RequestItems=pending)
            except (ClientError, BotoCoreError) as error:
                raise aws_failure(error, f"reading job records from {table}", permanent=ProviderUnavailable) from error
            for item in response.get("Responses", {}).get(table, []):
                record = from_item(item)
                records[str(record["job_id"])] = record
            pending = dict(response.get("UnprocessedKeys") or {})
            if not pending:
                break
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2**round_number)))  # full jitter
        else:
            raise ProviderUnavailable(f"{table} left keys unprocessed after {MAX_BATCH_GET_ROUNDS} rounds (retried)")
    return records


def report_csv(entries: list[ReportEntry]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_COLUMNS)
    for entry in entries:
        values = entry.model_dump()
        writer.writerow(_cell(values[column]) for column in REPORT_COLUMNS)
    return buffer.getvalue().encode()


def _entry(item: BatchItem, record: dict[str, Any] | None) -> ReportEntry:
    if record is None:
        cause = item.problem or "no job record: this row's job never started"
        return ReportEntry(row=item.row, job_id=item.job_id, status=MISSING, cause=cause)
    fields = {name: record.get(name) for name in _RECORD_FIELDS if name not in ("job_id", "status")}
    status = str(record.get("status") or "UNKNOWN")
    return ReportEntry.model_validate({"row": item.row, "job_id": item.job_id, "status": status, **fields})


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return f"'{value}"
    return value


def _put(s3: S3Client, bucket: str, key: str, body: bytes, content_type: str) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"writing s3://{bucket}/{key}") from error


def _publish(events: EventBridgeClient, event_bus: str, completed: BatchCompleted) -> None:
    try:
        response = events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": BATCH_COMPLETED_DETAIL_TYPE,
                    "Detail": completed.model_dump_json(),
                    "EventBusName": event_bus,
                }
            ]
        )
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"publishing {BATCH_COMPLETED_DETAIL_TYPE}", permanent=ProviderUnavailable) from error
    if response.get("FailedEntryCount"):
        raise ProviderUnavailable(f"EventBridge refused the {BATCH_COMPLETED_DETAIL_TYPE} event: {response['Entries']}")
