"""``avatar-pipeline costs [--since 30d] [--by provider|day]``: estimated and actual spend from the jobs table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from rich.table import Table

from .records import jobs_by_provider, since
from .render import Output
from .target import OperatorStack

# Only an attempt that reached the provider costs anything; the record keeps the costs of its latest attempt.
BILLED = ("SUCCEEDED", "FAILED", "CANCELLED", "RUNNING")


@dataclass
class Spend:
    key: str
    jobs: int = 0
    succeeded: int = 0
    output_seconds: float = 0.0
    estimated_usd: float = 0.0
    actual_usd: float = 0.0
    jobs_with_actual: int = 0

    def add(self, job: dict[str, Any]) -> None:
        self.jobs += 1
        self.succeeded += job.get("status") == "SUCCEEDED"
        self.output_seconds += float(job.get("duration_seconds") or 0)
        self.estimated_usd += float(job.get("estimated_cost_usd") or 0)
        if job.get("actual_cost_usd") is not None:
            self.actual_usd += float(job["actual_cost_usd"])
            self.jobs_with_actual += 1

    def document(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["estimated_usd"] = round(self.estimated_usd, 4)
        shown["actual_usd"] = round(self.actual_usd, 4)
        shown["output_seconds"] = round(self.output_seconds, 3)
        per_second = self.estimated_usd / self.output_seconds if self.output_seconds else None
        shown["estimated_usd_per_output_second"] = round(per_second, 4) if per_second is not None else None
        return shown


def spend(jobs: Iterable[dict[str, Any]], by: str) -> tuple[list[Spend], Spend]:
    """Rows keyed by provider or by UTC day (of the claim), and the total."""
    rows: dict[str, Spend] = {}
    total = Spend("total")
    for job in jobs:
        if job.get("status") not in BILLED or (
            job.get("estimated_cost_usd") is None and job.get("actual_cost_usd") is None
        ):
            continue
        key = str(job.get("provider")) if by == "provider" else str(job.get("claimed_at", ""))[:10]
        rows.setdefault(key, Spend(key)).add(job)
        total.add(job)
    return [rows[key] for key in sorted(rows)], total


def costs(stack: OperatorStack, *, window: str, by: str, out: Output) -> int:
    rows, total = spend(jobs_by_provider(stack, since(window)), by)
    if out.as_json:
        out.document({"since": window, "by": by, "rows": [row.document() for row in rows], "total": total.document()})
        return 0
    table = Table(title=f"Spend since {window}, by {by} ({stack.name})", show_footer=True)
    table.add_column(by, footer="total")
    for name, footer in (
        ("jobs", str(total.jobs)),
        ("succeeded", str(total.succeeded)),
        ("output s", f"{total.output_seconds:.1f}"),
        ("estimated USD", f"{total.estimated_usd:.4f}"),
        ("actual USD", _actual(total)),
    ):
        table.add_column(name, footer=footer, justify="right")
    for row in rows:
        table.add_row(
            row.key,
            str(row.jobs),
            str(row.succeeded),
            f"{row.output_seconds:.1f}",
            f"{row.estimated_usd:.4f}",
            _actual(row),
        )
    out.table(table)
    return 0


def _actual(row: Spend) -> str:
    """The provider's own figure, for the jobs it reported one for."""
    if not row.jobs_with_actual:
        return "-"
    return f"{row.actual_usd:.4f} ({row.jobs_with_actual} of {row.jobs})"
