"""WebP container structure, for a WebP too large to decode in bounded memory: every RIFF chunk complete and
within the RIFF size, and an image chunk (VP8 or VP8L) whose frame header is intact. Reads chunk headers only."""

from __future__ import annotations

from typing import BinaryIO

MAX_CHUNKS = 1000
VP8_START_CODE = b"\x9d\x01\x2a"
VP8L_SIGNATURE = 0x2F


def webp_structure_problem(stream: BinaryIO, size: int) -> str | None:
    """What is wrong with the chunk structure, or None."""
    riff_end = 8 + int.from_bytes(_read_at(stream, 4, 4), "little")
    if riff_end > size:
        return f"its RIFF header declares {riff_end} bytes but the file has {size}"
    offset, image_chunk = 12, None
    for _chunk in range(MAX_CHUNKS):
        if offset >= riff_end:
            break
        header = _read_at(stream, offset, 8 + 10)  # the chunk header and the start of a frame header
        if len(header) < 8:
            return f"it ends inside the chunk header at byte {offset}"
        kind, length = header[:4], int.from_bytes(header[4:8], "little")
        name = kind.decode("latin-1")
        # A missing pad byte after an odd-sized last chunk is tolerated, as decoders do.
        if offset + 8 + length > riff_end:
            return f"chunk {name!r} at byte {offset} runs past the end of the RIFF data"
        if kind in (b"VP8 ", b"VP8L"):
            problem = _frame_header_problem(kind, header[8:], length)
            if problem is not None:
                return f"chunk {name!r} at byte {offset} {problem}"
            image_chunk = kind
        offset += 8 + length + (length & 1)
    else:
        return f"more than {MAX_CHUNKS} chunks"
    return None if image_chunk is not None else "no VP8 or VP8L image chunk"


def _frame_header_problem(kind: bytes, frame: bytes, length: int) -> str | None:
    if kind == b"VP8L":
        valid = len(frame) >= 5 and frame[0] == VP8L_SIGNATURE and frame[4] >> 5 == 0
        return None if valid else "has no valid VP8L header"
    if len(frame) < 10 or frame[3:6] != VP8_START_CODE or frame[0] & 1:
        return "has no VP8 key frame header"
    first_partition = int.from_bytes(frame[0:3], "little") >> 5
    if 10 + first_partition > length:
        return f"declares a first partition of {first_partition} bytes in {length}"
    return None


def _read_at(stream: BinaryIO, offset: int, length: int) -> bytes:
    stream.seek(offset)
    return stream.read(length)
