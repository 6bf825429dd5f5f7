"""``avatar-pipeline watch ID``: a job's or a batch's live progress until it ends (exit 0 done, 1 failed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .progress import BAD_ROW, BatchView, JobView, batch_view, fresh_job_view
from .records import get_job
from .render import Output, styled_status
from .target import OperatorStack, UsageError

View = TypeVar("View", JobView, BatchView)
BATCH_PICKUP_SECONDS = 120
ROW_ORDER = ("SUCCEEDED", "FAILED", BAD_ROW, "CANCELLED", "RUNNING", "QUEUED", "PENDING")
ROW_STYLES = {"SUCCEEDED": "green", "FAILED": "red", BAD_ROW: "red", "CANCELLED": "yellow", "RUNNING": "cyan"}


def watch(stack: OperatorStack, target_id: str, *, interval: float, timeout: float | None, out: Output) -> int:
    job = fresh_job_view(stack, target_id)
    if job is not None:
        final_job = _follow(lambda: fresh_job_view(stack, target_id) or job, job_panel, interval, timeout, out)
        if out.as_json:
            out.document(final_job.document())
        elif out.console.is_terminal:  # piped, the last progress line said it already
            out.line(job_summary(final_job))
        return 0 if final_job.status == "SUCCEEDED" else 1
    batch = batch_view(stack, target_id)
    if batch is None:
        raise UsageError(f"no job or batch {target_id} in {stack.name}")
    final_batch = _follow(lambda: batch_view(stack, target_id) or batch, batch_panel, interval, timeout, out)
    if out.as_json:
        out.document(final_batch.document())
    elif out.console.is_terminal:
        out.line(f"batch {final_batch.batch_id}: {_counts(final_batch)}; report {final_batch.report_uri or '-'}")
    return 1 if final_batch.failed or not final_batch.ended else 0


def watch_started(
    stack: OperatorStack, job_id: str, execution_arn: str, *, interval: float, timeout: float | None, out: Output
) -> int:
    """Follows the job an execution just started: once that execution owns the job's record, or, when it ended
    without taking it (the same request already ran: a duplicate; or it was refused), as the execution tells."""
    sfn = stack.client("stepfunctions")
    while True:
        record = get_job(stack, job_id)
        if record is not None and record.get("execution_arn") == execution_arn:
            return watch(stack, job_id, interval=interval, timeout=timeout, out=out)
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] == "SUCCEEDED" and record is not None:
            out.line(f"job {job_id} already ran this request: following it")
            return watch(stack, job_id, interval=interval, timeout=timeout, out=out)
        if described["status"] != "RUNNING":
            refused = {
                "job_id": job_id,
                "status": "FAILED",
                "error": described.get("error"),
                "cause": described.get("cause"),
            }
            _say(out, refused, f"job {job_id} was not started: {described.get('error')}: {described.get('cause')}")
            return 1
        time.sleep(interval)


def watch_uploaded_batch(
    stack: OperatorStack, batch_id: str, *, interval: float, timeout: float | None, out: Output
) -> int:
    """Follows a batch just uploaded, once PrepareBatch has read its rows."""
    deadline = time.monotonic() + (timeout or BATCH_PICKUP_SECONDS)
    while batch_view(stack, batch_id) is None:
        if time.monotonic() > deadline:
            _say(out, {"batch_id": batch_id, "rows": 0, "counts": {}, "report_uri": None},
                 f"batch {batch_id} was not prepared: see the batch state machine's executions")  # fmt: skip
            return 1
        time.sleep(interval)
    return watch(stack, batch_id, interval=interval, timeout=timeout, out=out)


def _say(out: Output, document: dict[str, object], line: str) -> None:
    if out.as_json:
        out.document(document)
    else:
        out.line(line)


def _follow(
    refresh: Callable[[], View],
    panel: Callable[[View], RenderableType],
    interval: float,
    timeout: float | None,
    out: Output,
) -> View:
    deadline = None if timeout is None else time.monotonic() + timeout
    view = refresh()
    if out.as_json or not out.console.is_terminal:
        last = ""
        while True:
            # A line when something other than the clock changed: state, place, checks, counts.
            key = job_summary(view, with_times=False) if isinstance(view, JobView) else _counts(view)
            if key != last:
                out.line(job_summary(view) if isinstance(view, JobView) else key)
                last = key
            if view.ended or (deadline is not None and time.monotonic() > deadline):
                return view
            time.sleep(interval)
            view = refresh()
    with Live(panel(view), console=out.console, refresh_per_second=4, transient=False) as live:
        while not view.ended and (deadline is None or time.monotonic() < deadline):
            time.sleep(interval)
            view = refresh()
            live.update(panel(view))
    return view


def job_summary(view: JobView, *, with_times: bool = True) -> str:
    parts = [f"job {view.job_id} attempt {view.attempt}: {view.status}"]
    if view.state and not view.ended:
        parts.append(f"in {view.state}")
    if view.queue_position:
        parts.append(f"queue position {view.queue_position}")
    if view.slots_in_use:
        parts.append(f"holding a slot ({view.slots_in_use} in use)")
    parts.append(f"{view.status_checks} status checks")
    if with_times and view.generating_seconds is not None and not view.ended:
        parts.append(
            f"generating {_duration(view.generating_seconds)} of ~{_duration(view.expected_generation_seconds)}"
        )
    if view.ended:
        parts.append(f"{view.error}: {view.cause}" if view.error else str(view.output_uri or ""))
    return ", ".join(part for part in parts if part)


def job_panel(view: JobView) -> RenderableType:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("job", f"{view.job_id} (attempt {view.attempt}, {view.provider})")
    table.add_row(
        "status", styled_status(view.status) + (f"  in {view.state}" if view.state and not view.ended else "")
    )
    if view.queue_position:
        table.add_row("queue", f"position {view.queue_position} for a {view.provider.split('/')[0]} slot")
    if view.slots_in_use:
        table.add_row("slot", f"held ({view.slots_in_use} of the account's slots in use)")
    table.add_row("status checks", str(view.status_checks))
    table.add_row("elapsed", _duration(view.elapsed_seconds))
    if view.generating_seconds is not None:
        expected = _duration(view.expected_generation_seconds)
        table.add_row("generating", f"{_duration(view.generating_seconds)} of ~{expected} expected")
    if view.ended:
        table.add_row("outcome", view.output_uri or f"{view.error}: {view.cause}")
    return table


def batch_panel(view: BatchView) -> RenderableType:
    done = sum(view.counts.get(status, 0) for status in ("SUCCEEDED", "FAILED", BAD_ROW, "CANCELLED"))
    lines: list[RenderableType] = [
        Text(f"batch {view.batch_id} ({view.name}): {done} of {view.rows} rows ended"),
        ProgressBar(total=max(view.rows, 1), completed=done, width=50),
        Text.from_markup(_counts(view, markup=True)),
    ]
    if view.report_uri:
        lines.append(Text(f"report {view.report_uri}"))
    return Group(*lines)


def _counts(view: BatchView, *, markup: bool = False) -> str:
    shown = []
    for status in ROW_ORDER:
        count = view.counts.get(status, 0)
        if count:
            style = ROW_STYLES.get(status)
            label = f"[{style}]{status.lower()}[/{style}]" if markup and style else status.lower()
            shown.append(f"{label} {count}")
    return f"{' · '.join(shown)} (of {view.rows})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.0f}s"
