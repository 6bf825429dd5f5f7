"""The CRC-32 of a whole object from the CRC-32s of its parts, as S3 keeps it for a ``FULL_OBJECT`` checksum.

A copy computes each part's CRC once, on the thread that sends the part; the object's CRC is combined from them
here, so no byte is read a second time. ``combine`` is zlib's ``crc32_combine``: the CRC of A then B is the CRC of
A times x^(8·len(B)), plus the CRC of B, in GF(2) modulo the CRC-32 polynomial.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable
from functools import cache

_REFLECTED_POLYNOMIAL = 0xEDB88320
# CRC-32 keeps its bits reflected: the top bit is the coefficient of x^0, the lowest the one of x^31.
_ONE = 1 << 31


def of(data: bytes | bytearray | memoryview) -> int:
    return zlib.crc32(data)


def combine(first: int, second: int, second_length: int) -> int:
    """The CRC-32 of a body A followed by a body B, from ``crc32(A)``, ``crc32(B)`` and ``len(B)``."""
    return _multiply(_appending(second_length), first) ^ second


def of_parts(parts: Iterable[tuple[int, int]]) -> int:
    """The CRC-32 of parts joined in order, from each part's ``(crc32, length)``."""
    whole = 0
    for crc, length in parts:
        whole = combine(whole, crc, length)
    return whole


def encoded(crc: int) -> str:
    """How S3 writes a CRC-32 (``ChecksumCRC32``): its four big-endian bytes in base64."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


@cache
def _appending(length: int) -> int:
    """x^(8·length) modulo the polynomial: what appending ``length`` bytes does to a CRC (cached: the parts of
    an upload but its last have one length)."""
    result, power, exponent = _ONE, _ONE >> 1, 8 * length  # x^0, x^1
    while exponent:
        if exponent & 1:
            result = _multiply(result, power)
        power = _multiply(power, power)
        exponent >>= 1
    return result


def _multiply(a: int, b: int) -> int:
    """``a`` times ``b`` modulo the polynomial, both reflected."""
    product = 0
    for _ in range(32):
        if a & _ONE:
            product ^= b
        a = (a << 1) & 0xFFFFFFFF
        b = (b >> 1) ^ _REFLECTED_POLYNOMIAL if b & 1 else b >> 1
    return product
