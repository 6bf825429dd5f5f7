"""What ``watch`` shows, gathered once per refresh: a job's state, place in its provider's queue or slot, status
checks and times, or a batch's rows by status."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from avatar_pipeline.provider_accounts import account_of, slot_key

from .executions import ExecutionProgress, progress
from .records import get_job, get_jobs
from .target import OperatorStack

ENDED = ("SUCCEEDED", "FAILED", "CANCELLED")
WAITER, ACCOUNT, SLOTS = "wait#", "account#", "slots"  # the admission table's keys (avatar_pipeline.admission)
BAD_ROW = "INVALID"


@dataclass
class JobView:
    job_id: str
    status: str
    attempt: int
    provider: str
    state: str | None = None
    queue_position: int | None = None
    slots_in_use: int | None = None
    status_checks: int = 0
    elapsed_seconds: float | None = None
    generating_seconds: float | None = None
    expected_generation_seconds: float | None = None
    error: str | None = None
    cause: str | None = None
    output_uri: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def document(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchView:
    batch_id: str
    name: str
    rows: int
    counts: dict[str, int] = field(default_factory=dict)
    report_uri: str | None = None

    @property
    def ended(self) -> bool:
        return self.report_uri is not None

    @property
    def failed(self) -> bool:
        return any(self.counts.get(status, 0) for status in ("FAILED", "CANCELLED", BAD_ROW))

    def document(self) -> dict[str, Any]:
        return asdict(self)


def job_view(stack: OperatorStack, record: dict[str, Any], now: datetime | None = None) -> JobView:
    now = now or datetime.now(UTC)
    status, provider = str(record.get("status")), str(record.get("provider", ""))
    execution: ExecutionProgress | None = None
    if record.get("execution_arn"):
        execution = progress(stack, str(record["execution_arn"]))
    view = JobView(
        job_id=str(record["job_id"]),
        status=status,
        attempt=int(record.get("attempt") or 0),
        provider=provider,
        error=record.get("error"),
        cause=record.get("cause"),
        output_uri=record.get("output_uri"),
        elapsed_seconds=_seconds(record.get("claimed_at"), record.get("finished_at"), now),
    )
    if execution is not None:
        view.state = execution.state
        view.status_checks = execution.status_checks
        view.expected_generation_seconds = execution.estimated_generation_seconds
        if execution.submitted_at:
            view.generating_seconds = _seconds(execution.submitted_at, record.get("finished_at"), now)
    if status == "QUEUED" and stack.admission_table:
        view.queue_position = _queue_position(stack, record)
    elif status == "RUNNING" and stack.admission_table and provider:
        view.slots_in_use = _slots_in_use(stack, account_of(provider), view.job_id, view.attempt)
    return view


def batch_view(stack: OperatorStack, batch_id: str) -> BatchView | None:
    s3 = stack.client("s3")
    try:
        body = s3.get_object(Bucket=stack.input_bucket, Key=f"batches-normalized/{batch_id}/rows")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    rows = json.loads(body)
    name = str(rows[0]["batch"]["name"]) if rows else batch_id
    jobs = get_jobs(stack, [str(row["job_id"]) for row in rows if not row.get("problem") and row.get("job_id")])
    counts: dict[str, int] = {}
    for row in rows:
        job = jobs.get(str(row.get("job_id")))
        status = BAD_ROW if row.get("problem") else str(job.get("status")) if job else "PENDING"
        counts[status] = counts.get(status, 0) + 1
    view = BatchView(batch_id=batch_id, name=name, rows=len(rows), counts=counts)
    report_key = f"batches/{name}/{batch_id}/report.json"
    try:
        s3.head_object(Bucket=stack.output_bucket, Key=report_key)
        view.report_uri = f"s3://{stack.output_bucket}/{report_key}"
    except s3.exceptions.ClientError:
        pass  # not written yet: some row has not ended
    return view


def fresh_job_view(stack: OperatorStack, job_id: str) -> JobView | None:
    record = get_job(stack, job_id)
    return job_view(stack, record) if record is not None else None


def _seconds(start: object, end: object, now: datetime) -> float | None:
    if not start:
        return None
    finished = datetime.fromisoformat(str(end)) if end else now
    return round((finished - datetime.fromisoformat(str(start).replace("Z", "+00:00"))).total_seconds(), 1)


def _queue_position(stack: OperatorStack, record: dict[str, Any]) -> int | None:
    queue = record.get("queue") or {}
    if not queue.get("account") or not queue.get("queued_since"):
        return None
    me = f"{WAITER}{queue['queued_since']}#{slot_key(str(record['job_id']), int(record.get('attempt') or 0))}"
    ahead = stack.client("dynamodb").query(
        TableName=stack.admission_table,
        KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :me",
        ExpressionAttributeValues={
            ":pk": {"S": ACCOUNT + str(queue["account"])},
            ":first": {"S": WAITER},
            ":me": {"S": me},
        },
        Select="COUNT",
    )
    return int(ahead["Count"]) or None


def _slots_in_use(stack: OperatorStack, account: str, job_id: str, attempt: int) -> int | None:
    found = stack.client("dynamodb").get_item(
        TableName=stack.admission_table, Key={"pk": {"S": ACCOUNT + account}, "sk": {"S": SLOTS}}
    )
    item = found.get("Item")
    if not item or slot_key(job_id, attempt) not in item.get("holders", {}).get("M", {}):
        return None
    return int(item["in_use"]["N"])
