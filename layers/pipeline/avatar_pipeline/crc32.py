"""The CRC-32 of a part, and of a whole object from its parts' CRC-32s, as S3 keeps it for a ``FULL_OBJECT`` checksum.

A copy computes each part's CRC once, on the thread that sends the part; the object's CRC is combined from them
here, so no byte is read a second time. Both come from zlib-ng, whose CRC-32 uses the CPU's carry-less multiply
(PMULL on Graviton, PCLMULQDQ on x86): 0.04 s per GiB on this project's bench machine, against 0.26 to 0.37 s for
the standard library's zlib, which was a fifth of the copy's CPU. It releases the GIL as zlib does, so parts are
checked while the body keeps arriving.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from zlib_ng import zlib_ng


def of(data: bytes | bytearray | memoryview) -> int:
    return zlib_ng.crc32(data)


def combine(first: int, second: int, second_length: int) -> int:
    """The CRC-32 of a body A followed by a body B, from ``crc32(A)``, ``crc32(B)`` and ``len(B)``."""
    return zlib_ng.crc32_combine(first, second, second_length)


def of_parts(parts: Iterable[tuple[int, int]]) -> int:
    """The CRC-32 of parts joined in order, from each part's ``(crc32, length)``."""
    whole = 0
    for crc, length in parts:
        whole = combine(whole, crc, length)
    return whole


def encoded(crc: int) -> str:
    """How S3 writes a CRC-32 (``ChecksumCRC32``): its four big-endian bytes in base64."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode()
