"""JPEG structure read without decoding: the frame header, and a walk over every segment and scan to the end.

``read_jpeg_frame`` seeks from segment to segment (metadata before the frame can run to megabytes) and stops at
the first scan. ``jpeg_structure_problem`` reads the whole stream once, for a JPEG too large to decode in bounded
memory: every segment must be well formed, every scan end in a marker that may follow it, restart markers must
come in order, and the end-of-image marker must be reached.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
PROGRESSIVE_SOF_MARKERS = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
SOS, EOI, SOI, TEM = 0xDA, 0xD9, 0xD8, 0x01
RESTART_MARKERS = range(0xD0, 0xD8)
# Markers that may end an entropy-coded scan: tables, restart interval, DNL, another scan, metadata, the end.
AFTER_SCAN_MARKERS = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD, SOS, 0xFE, EOI, *range(0xE0, 0xF0)})
MAX_HEADER_SEGMENTS = 1000
MAX_SEGMENTS = 10_000
# libjpeg's JCOEF: each of the 64 coefficients of an 8x8 block is two bytes.
BLOCK_COEFFICIENT_BYTES = 64 * 2


@dataclass(frozen=True)
class JpegFrame:
    width: int
    height: int
    # When the data comes in several scans (progressive, or one component per scan) libjpeg holds every DCT
    # coefficient of the full-size image, whatever scale it outputs: this many bytes. 0 for one interleaved scan.
    buffered_coefficient_bytes: int


def read_jpeg_frame(stream: BinaryIO) -> JpegFrame | None:
    """The frame header (SOF) and the first scan's header, seeking over everything else; None without a frame."""
    offset, frame = 2, None
    for _segment in range(MAX_HEADER_SEGMENTS):
        marker = _read_at(stream, offset, 4)
        if len(marker) < 2 or marker[0] != 0xFF:
            break
        code = marker[1]
        if code == 0xFF:
            offset += 1
            continue
        if code in (TEM, SOI) or code in RESTART_MARKERS:
            offset += 2
            continue
        if code == EOI or len(marker) < 4:
            break
        length = int.from_bytes(marker[2:4], "big")
        if length < 2:
            break
        if code == SOS:
            if frame is not None:
                scan_components = _read_at(stream, offset + 4, 1)
                return _with_scan(frame, scan_components[0] if scan_components else 0)
            break
        if code in SOF_MARKERS and frame is None:
            frame = (code, _read_at(stream, offset + 4, length - 2))
        offset += 2 + length
    return _with_scan(frame, 0) if frame is not None else None


def _with_scan(frame: tuple[int, bytes], scan_components: int) -> JpegFrame | None:
    code, sof = frame
    if len(sof) < 6:
        return None
    height, width, count = int.from_bytes(sof[1:3], "big"), int.from_bytes(sof[3:5], "big"), sof[5]
    sampling = [(factor >> 4, factor & 0x0F) for factor in sof[7 : 6 + 3 * count : 3]]
    buffered = 0
    if sampling and (code in PROGRESSIVE_SOF_MARKERS or scan_components < len(sampling)):
        widest, tallest = max(h for h, _ in sampling) or 1, max(v for _, v in sampling) or 1
        for horizontal, vertical in sampling:
            columns = _ceil_div(_ceil_div(width * horizontal, widest), 8)
            rows = _ceil_div(_ceil_div(height * vertical, tallest), 8)
            buffered += columns * rows * BLOCK_COEFFICIENT_BYTES
    return JpegFrame(width=width, height=height, buffered_coefficient_bytes=buffered)


def jpeg_structure_problem(reader: io.BufferedReader, size: int) -> str | None:
    """Walks ``reader`` (``size`` bytes) from its start to the end-of-image marker; what is wrong, or None."""
    reader.seek(0)
    if reader.read(2) != b"\xff\xd8":
        return "no start-of-image marker"
    code, scans = _next_marker(reader), 0
    for _segment in range(MAX_SEGMENTS):
        position = reader.tell()
        if code is None:
            return f"no marker where one should start, before byte {position}"
        if code == EOI:
            return None if scans else "no scan before its end-of-image marker"
        if code in (SOI, TEM) or code in RESTART_MARKERS or code < 0xC0:
            return f"marker 0x{code:02X} where a segment should start, before byte {position}"
        length_bytes = reader.read(2)
        length = int.from_bytes(length_bytes, "big")
        if len(length_bytes) < 2 or length < 2:
            return f"a segment without a valid length at byte {position}"
        if reader.seek(length - 2, io.SEEK_CUR) > size:
            return f"it ends inside the segment at byte {position}"
        if code == SOS:
            scans += 1
            code = _end_of_scan(reader)
            if code is None:
                return f"it ends, or has an invalid marker, inside scan {scans}"
        else:
            code = _next_marker(reader)
    return f"more than {MAX_SEGMENTS} segments"


def _next_marker(reader: io.BufferedReader) -> int | None:
    if reader.read(1) != b"\xff":
        return None
    code = reader.read(1)
    while code == b"\xff":  # fill bytes
        code = reader.read(1)
    return code[0] if code else None


def _end_of_scan(reader: io.BufferedReader) -> int | None:
    """Skips entropy-coded data to the marker that ends it; None at the end of the data or on a misplaced marker."""
    restarts = 0
    while True:
        window = reader.peek(1)  # what the buffer holds: one copy per refill, not per byte
        if not window:
            return None
        skipped = _skip_in_window(window, restarts)
        if skipped is None:
            return None
        at, restarts = skipped
        if at < 0:
            reader.seek(len(window), io.SEEK_CUR)
            continue
        # A marker, fill bytes, or a 0xFF at the window's end: read it from the stream.
        reader.seek(at, io.SEEK_CUR)
        code = _next_marker(reader)
        if code is None:
            return None
        if code in RESTART_MARKERS:
            if code != RESTART_MARKERS[restarts % 8]:
                return None
            restarts += 1
        elif code != 0x00:
            return code if code in AFTER_SCAN_MARKERS else None


def _skip_in_window(window: bytes, restarts: int) -> tuple[int, int] | None:
    """Stuffed 0xFF data bytes and restart markers, the common cases, skipped without leaving the window: the
    offset of the next other 0xFF (-1 if none) and the restarts seen so far; None on a restart out of order."""
    at = window.find(b"\xff")
    while 0 <= at < len(window) - 1 and (window[at + 1] == 0x00 or window[at + 1] in RESTART_MARKERS):
        if window[at + 1] != 0x00:
            if window[at + 1] != RESTART_MARKERS[restarts % 8]:
                return None
            restarts += 1
        at = window.find(b"\xff", at + 2)
    return at, restarts


def _ceil_div(dividend: int, divisor: int) -> int:
    return -(-dividend // divisor)


def _read_at(stream: BinaryIO, offset: int, length: int) -> bytes:
    stream.seek(offset)
    return stream.read(length)
