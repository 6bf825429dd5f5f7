"""A batch file's rows (contract: Batches), each a request object or a problem, and the JSONL reading of them.

A row that cannot be a request is kept with a problem text naming it, so it fails alone; only a file that cannot
be a batch at all (no rows, too many rows; for CSV no header, or syntax the reader cannot get past) is refused.

Rows are numbered 1, 2, ... over the non-blank data records, blank lines skipped and not counted. For JSONL, row n
is the n-th non-blank line; for CSV, the n-th non-blank record after the header, which in a spreadsheet whose header
is in row 1 and which has no blank rows is spreadsheet row n + 1. A bad row's problem also names the file line it
starts on: ``row 7: not a JSON object (an array) (line 9)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest
from .job_ids import well_formed_job_id
from .job_requests import MAX_MANIFEST_DEPTH, json_depth, refuse_constant

MAX_ROWS = 10_000
# A row travels as one Map item (one child execution's input, at most 256 KiB): a far bigger row is a mistake.
MAX_ROW_BYTES = 64 * 1024


@dataclass(frozen=True)
class ParsedRow:
    """``content`` is what a derived job id hashes: the request's canonical JSON, or a bad row's raw text."""

    row: int
    request: dict[str, Any] | None
    problem: str | None
    content: str
    caller_job_id: str | None


class RowProblem(ValueError):
    """What is wrong with one row, without the row's number and line (``bad_row`` adds them)."""


def collect(rows: Iterable[ParsedRow], what: str) -> list[ParsedRow]:
    """All the rows, refusing a file with none or with more than ``MAX_ROWS`` (``what``: the file's URI)."""
    kept: list[ParsedRow] = []
    for row in rows:
        if len(kept) == MAX_ROWS:
            raise InvalidRequest(f"batch {what} has more than {MAX_ROWS} rows; split it into several files")
        kept.append(row)
    if not kept:
        raise InvalidRequest(f"batch {what} has no rows")
    return kept


def jsonl_rows(text: str) -> Iterator[ParsedRow]:
    row = 0
    for line_number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            row += 1
            yield _jsonl_row(row, line_number, line)


def good_row(row: int, request: dict[str, Any]) -> ParsedRow:
    try:
        content = canonical_json(request)
    except ValueError as error:
        raise RowProblem("holds a lone surrogate (\\ud800-\\udfff), which is not text") from error
    caller = well_formed_job_id(request.get("job_id"))
    return ParsedRow(row=row, request=request, problem=None, content=content, caller_job_id=caller)


def bad_row(row: int, line_number: int, problem: RowProblem, raw: str, caller_job_id: str | None) -> ParsedRow:
    text = f"row {row}: {problem} (line {line_number})"
    return ParsedRow(row=row, request=None, problem=text, content=raw, caller_job_id=caller_job_id)


def canonical_json(value: Any) -> str:
    """Key order and spacing do not change it; a lone surrogate, which UTF-8 cannot carry, raises ValueError."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text.encode()
    return text


def load_json(text: str) -> Any:
    """``json.loads`` refusing what cannot travel on as JSON: NaN, Infinity, numbers that overflow to infinity, and
    nesting deeper than a manifest may go."""
    try:
        value = json.loads(text, parse_constant=refuse_constant, parse_float=_finite_float)
    except RecursionError as error:
        raise ValueError("nested too deeply") from error
    if json_depth(value) > MAX_MANIFEST_DEPTH:
        raise ValueError(f"nested deeper than {MAX_MANIFEST_DEPTH} levels")
    return value


def json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), "null")


def _jsonl_row(row: int, line_number: int, line: str) -> ParsedRow:
    value: Any = None
    try:
        size = len(line.encode())
        if size > MAX_ROW_BYTES:
            raise RowProblem(f"is {size} bytes; a row may be at most {MAX_ROW_BYTES}")
        try:
            value = load_json(line)
        except json.JSONDecodeError as error:
            raise RowProblem(f"not valid JSON at column {error.colno}: {error.msg}") from error
        except ValueError as error:
            raise RowProblem(f"not valid JSON: {error}") from error
        if not isinstance(value, dict):
            raise RowProblem(f"not a JSON object ({json_type(value)})")
        return good_row(row, value)
    except RowProblem as problem:
        return bad_row(row, line_number, problem, line, _salvaged_job_id(value, line))


def _salvaged_job_id(value: Any, line: str) -> str | None:
    """The caller's job id of a bad line, when it is still an object to plain ``json.loads`` (NaN, too deep)."""
    if not isinstance(value, dict):
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            return None
    return well_formed_job_id(value.get("job_id")) if isinstance(value, dict) else None


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value
