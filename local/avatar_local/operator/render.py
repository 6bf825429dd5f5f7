"""How an operator command speaks: rich tables and lines for people, or one JSON document for scripts (``--json``)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

PIPED_WIDTH = 160
OUTCOME_STYLES = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "CANCELLED": "yellow",
    "RUNNING": "cyan",
    "QUEUED": "magenta",
}


@dataclass
class Output:
    as_json: bool
    console: Console = field(default_factory=lambda: Console(highlight=False, width=_width()))

    def document(self, value: Any) -> None:
        sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def line(self, text: str) -> None:
        """A progress or outcome line; under ``--json`` it goes to stderr, so stdout stays one document."""
        if self.as_json:
            print(text, file=sys.stderr, flush=True)
        else:
            self.console.print(text, markup=False, soft_wrap=True)

    def table(self, table: Table) -> None:
        self.console.print(table)


def _width() -> int | None:
    """The terminal's width (or ``COLUMNS``); piped into a file or a log, wide enough that ids and URIs stay on one
    line."""
    return None if Console().is_terminal or os.environ.get("COLUMNS") else PIPED_WIDTH


def styled_status(status: object) -> str:
    text = str(status)
    style = OUTCOME_STYLES.get(text)
    return f"[{style}]{text}[/{style}]" if style else text


def seconds_between(start: object, end: object) -> float | None:
    """Seconds between two ISO times (as the records keep them); None if either is missing."""
    if not start or not end:
        return None
    return (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()


def short_time(stamp: object) -> str:
    return str(stamp)[:16].replace("T", " ") if stamp else "-"
