"""One row of the table ``make bench`` prints: a metric, its target, the baseline and the figure measured in the
same run, and whether the target is met. Each benchmark module exposes ``rows() -> list[Row]``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    metric: str
    target: str
    before: str
    """The baseline, measured in the same process (the old way of doing it)."""
    after: str
    ratio: str
    """after / before where both are numbers, as text (``0.43x``); empty when it means nothing."""
    met: bool


def render(rows: list[Row]) -> str:
    """A Markdown table of the rows, as the closing note quotes it."""
    header = ("metric", "target", "before", "after", "ratio", "met")
    lines = [header, *((r.metric, r.target, r.before, r.after, r.ratio, "yes" if r.met else "NO") for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |" for line in lines]
    out.insert(1, "| " + " | ".join("-" * width for width in widths) + " |")
    return "\n".join(out)
