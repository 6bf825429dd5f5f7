"""``avatar-pipeline jobs list|show|retry|cancel``.

Exit codes (contract): 0 done, 1 the job failed or could not be acted on (it had already ended, or cannot be
retried), 2 bad usage or no stack.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.table import Table

from .executions import intake_request, start_job
from .records import ACTIVE, get_job, list_jobs, since
from .render import Output, seconds_between, short_time, styled_status
from .target import OperatorStack, UsageError

CANCEL_ERROR = "JobCancelled"
RETRYABLE = ("FAILED", "CANCELLED")


def require_job(stack: OperatorStack, job_id: str) -> dict[str, Any]:
    record = get_job(stack, job_id)
    if record is None:
        raise UsageError(f"no job {job_id} in {stack.jobs_table}")
    return record


def jobs_list(stack: OperatorStack, *, status: str | None, provider: str | None, window: str, out: Output) -> int:
    jobs = list_jobs(stack, status=status, provider=provider, after=since(window))
    if out.as_json:
        out.document({"since": window, "status": status, "provider": provider, "jobs": jobs})
        return 0
    what = " ".join(filter(None, (status, provider))) or "all"
    table = Table(title=f"Jobs ({what}) updated since {window}: {len(jobs)} ({stack.name})")
    for column in ("job", "status", "provider", "try", "updated (UTC)", "est. USD"):
        table.add_column(column, no_wrap=True)
    table.add_column("error / output key", overflow="fold")
    for job in jobs:
        cost = job.get("estimated_cost_usd")
        table.add_row(
            str(job["job_id"]),
            styled_status(job.get("status")),
            str(job.get("provider", "-")),
            str(job.get("attempt", "-")),
            short_time(job.get("updated_at")),
            f"{cost:.4f}" if cost is not None else "-",
            str(job.get("error") or _key_of(job.get("output_uri"))),
        )
    out.table(table)
    return 0


def show_document(record: dict[str, Any]) -> dict[str, Any]:
    """The record, plus what an operator derives from it: cost per output second, how long it took."""
    shown = {**record}
    seconds = record.get("duration_seconds")
    for cost_field in ("estimated_cost_usd", "actual_cost_usd"):
        cost = record.get(cost_field)
        if cost is not None and seconds:
            shown[cost_field.replace("_usd", "_usd_per_output_second")] = round(float(cost) / float(seconds), 4)
    elapsed = seconds_between(record.get("claimed_at"), record.get("finished_at"))
    shown["elapsed_seconds"] = round(elapsed, 3) if elapsed is not None else None
    return shown


def jobs_show(stack: OperatorStack, job_id: str, *, out: Output) -> int:
    shown = show_document(require_job(stack, job_id))
    if out.as_json:
        out.document(shown)
        return 0
    table = Table(title=f"Job {job_id} ({stack.name})", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = {**shown, **{f"timings.{name}": value for name, value in (shown.get("timings") or {}).items()}}
    for name in (
        "status", "attempt", "provider", "provider_task_id", "origin", "claimed_at", "finished_at", "elapsed_seconds",
        "queued_seconds", "error", "cause", "output_uri", "result_uri", "duration_seconds", "estimated_cost_usd",
        "estimated_cost_usd_per_output_second", "actual_cost_usd", "actual_cost_usd_per_output_second",
        *(f"timings.{name}" for name in shown.get("timings") or {}),
    ):  # fmt: skip
        if rows.get(name) not in (None, "", {}):
            value = rows[name]
            shown_value = json.dumps(value) if isinstance(value, dict | list) else str(value)
            table.add_row(name, styled_status(value) if name == "status" else shown_value)
    out.table(table)
    for attempt in shown.get("attempts", []):
        out.line(
            f"  attempt {attempt.get('attempt')}: {attempt.get('status')} {attempt.get('error') or ''}"
            f" claimed {short_time(attempt.get('claimed_at'))}, ended {short_time(attempt.get('finished_at'))}"
        )
    return 0


def jobs_retry(stack: OperatorStack, job_id: str, *, out: Output) -> tuple[int, str | None]:
    """Starts the job's request again as a new attempt; (exit code, the new execution's ARN or None)."""
    record = require_job(stack, job_id)
    status, attempt = record.get("status"), int(record.get("attempt") or 0)
    if status not in RETRYABLE:
        _say(out, {"job_id": job_id, "status": status, "retried": False},
             f"job {job_id} is {status}; only a FAILED or CANCELLED job is retried")  # fmt: skip
        return 1, None
    request = intake_request(stack, str(record["execution_arn"]), job_id)
    if request is None:
        _say(out, {"job_id": job_id, "status": status, "retried": False},
             f"job {job_id} failed before its request was valid ({record.get('error')}); "
             "correct the request and send it again under the same job_id")  # fmt: skip
        return 1, None
    execution_arn = start_job(stack, request, name=f"retry-{attempt + 1}")
    out.line(f"job {job_id}: attempt {attempt + 1} started ({execution_arn.rsplit(':', 1)[1]})")
    return 0, execution_arn


def jobs_cancel(stack: OperatorStack, job_id: str, *, wait_seconds: float, out: Output) -> int:
    record = require_job(stack, job_id)
    if record.get("status") not in ACTIVE:
        _say(out, {"job_id": job_id, "status": record.get("status"), "cancelled": False},
             f"job {job_id} is already {record.get('status')}; nothing to cancel")  # fmt: skip
        return 1
    execution_arn = str(record["execution_arn"])
    sfn = stack.client("stepfunctions")
    try:
        sfn.stop_execution(
            executionArn=execution_arn,
            error=CANCEL_ERROR,
            cause=f"job {job_id} was cancelled with avatar-pipeline jobs cancel",
        )
    except sfn.exceptions.ExecutionDoesNotExist as error:
        raise UsageError(f"job {job_id}'s execution {execution_arn} does not exist") from error
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and record.get("status") in ACTIVE:
        time.sleep(0.5)
        record = get_job(stack, job_id) or record
    outcome = {
        "job_id": job_id,
        "attempt": int(record.get("attempt", 0)),
        "status": record.get("status"),
        "execution_arn": execution_arn,
        "provider_task_id": record.get("provider_task_id"),
        "cancelled": record.get("status") == "CANCELLED",
    }
    if record.get("status") in ACTIVE:
        _say(out, outcome, f"stopped {execution_arn}; job {job_id} will be recorded CANCELLED shortly")
    else:
        _say(out, outcome, f"job {job_id} attempt {record.get('attempt')} is {record.get('status')}")
    return 0


def _key_of(uri: object) -> str:
    """An output's key in the output bucket (the bucket is the stack's)."""
    return str(uri).split("/", 3)[3] if uri and str(uri).startswith("s3://") and str(uri).count("/") >= 3 else ""


def _say(out: Output, document: dict[str, Any], line: str) -> None:
    if out.as_json:
        out.document(document)
    else:
        out.line(line)
