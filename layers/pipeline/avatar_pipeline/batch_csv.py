"""A CSV batch file's records as rows (see ``batch_rows`` for numbering and bad rows).

The header names job request fields. Empty cells are absent; ``seed`` and ``max_cost_usd`` cells are numbers;
``options`` and ``aigc_meta`` cells are JSON objects, and ``options.<name>`` / ``aigc_meta.<name>`` columns add one
entry each (a JSON-looking value such as ``720``, ``true`` or ``[1, 2]`` as JSON, anything else as written). Any
other column is passed on as written, so the request model refuses an unknown one by name.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .batch_rows import MAX_ROW_BYTES, ParsedRow, RowProblem, bad_row, good_row, json_type, load_json
from .errors import InvalidRequest
from .job_ids import well_formed_job_id
from .models import JobRequest

if TYPE_CHECKING:
    from _csv import Reader

NUMBER_COLUMNS = frozenset({"seed", "max_cost_usd"})
OBJECT_COLUMNS = frozenset({"options", "aigc_meta"})
KNOWN_COLUMNS = frozenset(JobRequest.model_fields) | NUMBER_COLUMNS


def csv_rows(text: str, what: str) -> Iterator[ParsedRow]:
    """``what``: the file's URI, for a refusal of the whole file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = _header(reader, what)
        row = 0
        for line_number, cells in _records(reader):
            if any(cell.strip() for cell in cells):
                row += 1
                yield _csv_row(header, row, line_number, cells)
    except csv.Error as error:
        raise InvalidRequest(f"batch {what} is not well-formed CSV (line {reader.line_num}): {error}") from error


def _header(reader: Reader, what: str) -> list[str]:
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        header = [cell.strip() for cell in cells]
        if not any(name in KNOWN_COLUMNS or name.partition(".")[0] in OBJECT_COLUMNS for name in header):
            raise InvalidRequest(
                f"batch {what} has no header row: its first line must name the columns, comma-separated, with job "
                f"request field names (image, audio, ...); it reads {', '.join(map(repr, header[:5]))}"
            )
        repeated = sorted({name for name in header if name and header.count(name) > 1})
        if repeated:
            raise InvalidRequest(f"batch {what} names column(s) {', '.join(repeated)} more than once")
        return header
    raise InvalidRequest(f"batch {what} has no rows (and no header)")


def _records(reader: Reader) -> Iterator[tuple[int, list[str]]]:
    """Each record with the file line it starts on (a quoted cell may span lines)."""
    last_line = reader.line_num
    for cells in reader:
        yield last_line + 1, cells
        last_line = reader.line_num


def _csv_row(header: list[str], row: int, line_number: int, cells: list[str]) -> ParsedRow:
    raw = json.dumps(cells, ensure_ascii=False)
    caller = well_formed_job_id(cells[header.index("job_id")]) if "job_id" in header[: len(cells)] else None
    try:
        size = sum(len(cell.encode()) for cell in cells)
        if size > MAX_ROW_BYTES:
            raise RowProblem(f"is {size} bytes; a row may be at most {MAX_ROW_BYTES}")
        if any(cell.strip() for cell in cells[len(header) :]):
            raise RowProblem(f"has {len(cells)} cells but the header names {len(header)} columns")
        return good_row(row, _request(header, cells))
    except RowProblem as problem:
        return bad_row(row, line_number, problem, raw, caller)


def _request(header: list[str], cells: list[str]) -> dict[str, Any]:
    request: dict[str, Any] = {}
    objects: dict[str, dict[str, Any]] = {}
    for name, cell in zip(header, cells, strict=False):
        if not cell.strip():
            continue
        prefix, dot, field = name.partition(".")
        if name in NUMBER_COLUMNS:
            request[name] = _number(name, cell)
        elif name in OBJECT_COLUMNS:
            for key, value in _object(name, cell).items():
                _put(objects.setdefault(name, {}), name, key, value)
        elif dot and field and prefix in OBJECT_COLUMNS:
            _put(objects.setdefault(prefix, {}), prefix, field, _loose(cell))
        elif not name:
            raise RowProblem(f"has a value under a column with no name: {_shown(cell)}")
        else:
            request[name] = cell
    return request | objects


def _number(column: str, cell: str) -> int | float:
    try:
        value = load_json(cell.strip())
    except ValueError:
        value = None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RowProblem(f"column {column}: {_shown(cell)} is not a number")
    return value


def _object(column: str, cell: str) -> dict[str, Any]:
    try:
        value = load_json(cell)
    except ValueError as error:
        raise RowProblem(f"column {column}: not a JSON object ({error})") from error
    if not isinstance(value, dict):
        raise RowProblem(f"column {column}: not a JSON object ({json_type(value)})")
    return value


def _loose(cell: str) -> Any:
    """A JSON-looking cell (``720``, ``true``, ``[1, 2]``) as its JSON value; anything else as written."""
    try:
        return load_json(cell)
    except ValueError:
        return cell


def _put(target: dict[str, Any], column: str, key: str, value: Any) -> None:
    if key in target:
        raise RowProblem(f"{column}.{key} is given twice (in the {column} cell and its own column)")
    target[key] = value


def _shown(cell: str) -> str:
    return repr(cell if len(cell) <= 40 else f"{cell[:40]}...")
