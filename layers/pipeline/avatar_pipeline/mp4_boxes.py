"""ISO-BMFF boxes: the top-level layout read through a range reader, and in-memory box reading and writing.

Only box headers are read to learn the layout; a box's body is read only when asked for (``read_box``), with a cap.
The range reader is ``read(offset, length) -> bytes``: a local file's seek + read or an S3 ranged GET alike.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

RangeReader = Callable[[int, int], bytes]

MAX_MOOV_BYTES = 64 * 1024 * 1024
# A moof (or mfra) is read to patch its absolute offsets; a sane one is a few KiB.
MAX_PATCHED_BOX_BYTES = 16 * 1024 * 1024
_U32_MAX = 0xFFFFFFFF


class Mp4Error(ValueError):
    """The MP4 cannot be labelled; the message says why."""


class MalformedMp4(Mp4Error):
    """Not a well-formed MP4: no moov, a truncated or impossible box, a box larger than we read into memory."""


class UnsupportedMp4Layout(Mp4Error):
    """Well-formed, but laid out in a way whose offsets we cannot keep right when moov grows."""


@dataclass(frozen=True)
class TopBox:
    """A top-level box: ``offset`` of its header, ``size`` including the header (size 0 resolved to end of file)."""

    type: str
    offset: int
    size: int
    header_size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class Mp4Layout:
    boxes: tuple[TopBox, ...]
    file_size: int

    def only(self, box_type: str) -> TopBox:
        found = [box for box in self.boxes if box.type == box_type]
        if not found:
            raise MalformedMp4(f"no {box_type!r} box among the top-level boxes {[b.type for b in self.boxes]}")
        if len(found) > 1:
            raise MalformedMp4(
                f"{len(found)} {box_type!r} boxes at the top level (offsets {[b.offset for b in found]})"
            )
        return found[0]


def read_layout(read: RangeReader, file_size: int) -> Mp4Layout:
    """The top-level boxes, from their headers alone (at most 16 bytes read per box)."""
    boxes: list[TopBox] = []
    offset = 0
    while offset < file_size:
        header = read(offset, min(16, file_size - offset))
        box = _top_box(header, offset, file_size)
        boxes.append(box)
        offset = box.end
    if not boxes:
        raise MalformedMp4("empty file: no boxes at all")
    return Mp4Layout(tuple(boxes), file_size)


def _top_box(header: bytes, offset: int, file_size: int) -> TopBox:
    if len(header) < 8:
        raise MalformedMp4(f"truncated box header at offset {offset}: {len(header)} bytes before the end of the file")
    size, box_type = struct.unpack(">I4s", header[:8])
    name = box_type.decode("latin-1")
    header_size = 8
    if size == 1:
        if len(header) < 16:
            raise MalformedMp4(f"truncated 64-bit box header of {name!r} at offset {offset}")
        size = struct.unpack(">Q", header[8:16])[0]
        header_size = 16
    elif size == 0:
        size = file_size - offset
    if size < header_size:
        raise MalformedMp4(f"box {name!r} at offset {offset} declares an impossible size {size}")
    if offset + size > file_size:
        raise MalformedMp4(
            f"truncated box {name!r} at offset {offset}: declares {size} bytes, the file has {file_size - offset} left"
        )
    return TopBox(name, offset, size, header_size)


def read_box(read: RangeReader, box: TopBox, limit: int) -> bytes:
    """The whole box (header included), refused beyond ``limit`` bytes."""
    if box.size > limit:
        raise MalformedMp4(
            f"{box.type!r} box at offset {box.offset} is {box.size} bytes, "
            f"more than the {limit} bytes we read into memory"
        )
    data = read(box.offset, box.size)
    if len(data) != box.size:
        raise MalformedMp4(f"short read of {box.type!r} at offset {box.offset}: {len(data)} of {box.size} bytes")
    return data


@dataclass(frozen=True)
class Child:
    """A box inside a bytes buffer: ``data[start:end]`` is the whole box, its body starts at ``body``."""

    type: bytes
    start: int
    body: int
    end: int


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Child]:
    """The boxes laid end to end in ``data[start:end]``; raises ``MalformedMp4`` on a truncated or impossible box."""
    stop = len(data) if end is None else end
    offset = start
    while offset < stop:
        if stop - offset < 8:
            raise MalformedMp4(f"{stop - offset} stray bytes where a box header should be")
        size, box_type = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if stop - offset < 16:
                raise MalformedMp4(f"truncated 64-bit header of {box_type!r}")
            size = struct.unpack_from(">Q", data, offset + 8)[0]
            header = 16
        elif size == 0:
            size = stop - offset
        if size < header or offset + size > stop:
            raise MalformedMp4(f"box {box_type!r} declares {size} bytes where {stop - offset} are left")
        yield Child(box_type, offset, offset + header, offset + size)
        offset += size


def children(data: bytes) -> list[Child]:
    """The children of the single box ``data`` (a plain container: its body is only boxes)."""
    outer = next(iter_boxes(data))
    return list(iter_boxes(data, outer.body, outer.end))


def make_box(box_type: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    if len(body) + 8 <= _U32_MAX:
        return struct.pack(">I4s", len(body) + 8, box_type) + body
    return struct.pack(">I4sQ", 1, box_type, len(body) + 16) + body


def make_full_box(box_type: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return make_box(box_type, struct.pack(">I", (version << 24) | flags), *parts)
