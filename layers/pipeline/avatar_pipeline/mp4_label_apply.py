"""Applies a ``LabelPlan`` locally: streams the source's ranges and the plan's new bytes, in bounded buffers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from avatar_pipeline.mp4_boxes import MalformedMp4, RangeReader
from avatar_pipeline.mp4_label_plan import Bytes, LabelPlan, prepare_label_plan

COPY_BUFFER_BYTES = 1024 * 1024
Writer = Callable[[bytes], object]


def file_reader(source: BinaryIO) -> RangeReader:
    """A range reader over an open, seekable binary file."""

    def read(offset: int, length: int) -> bytes:
        source.seek(offset)
        return source.read(length)

    return read


def apply_plan(plan: LabelPlan, read: RangeReader, write: Writer, buffer_size: int = COPY_BUFFER_BYTES) -> int:
    """Writes the labelled file through ``write``; reads the source at most ``buffer_size`` bytes at a time.

    Returns the number of bytes written (``plan.size``).
    """
    written = 0
    for segment in plan.segments:
        if isinstance(segment, Bytes):
            write(segment.data)
            written += segment.size
            continue
        offset = segment.start
        while offset < segment.end:
            chunk = read(offset, min(buffer_size, segment.end - offset))
            if not chunk:
                raise MalformedMp4(f"the source ended at {offset}, inside a range it declared up to {segment.end}")
            write(chunk)
            offset += len(chunk)
            written += len(chunk)
    return written


def label_file(source: Path, destination: Path, label_json: str, buffer_size: int = COPY_BUFFER_BYTES) -> LabelPlan:
    """Writes ``source`` labelled to ``destination`` (a different file), via a temporary file beside it."""
    if destination.exists() and destination.resolve() == source.resolve():
        raise ValueError(f"cannot label {source} onto itself: the plan reads the source while writing")
    partial = destination.with_name(f".{destination.name}.partial")
    with source.open("rb") as src:
        read = file_reader(src)
        plan = prepare_label_plan(read, os.fstat(src.fileno()).st_size, label_json)
        try:
            with partial.open("wb") as out:
                apply_plan(plan, read, out.write, buffer_size)
            partial.replace(destination)
        finally:
            partial.unlink(missing_ok=True)
    return plan
