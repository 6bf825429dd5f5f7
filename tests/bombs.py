"""Compressed bodies that inflate a thousandfold, built without ever holding the inflated bytes."""

from __future__ import annotations

import zlib

GZIP_WBITS = 16 + zlib.MAX_WBITS
MIB = 1024 * 1024


def compressed_zeros(decoded_bytes: int, *, prefix: bytes = b"", wbits: int = GZIP_WBITS) -> bytes:
    """``prefix`` followed by zeros up to ``decoded_bytes``, compressed (gzip by default): about 1:1000."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [compressor.compress(prefix)]
    zeros = bytes(MIB)
    left = decoded_bytes - len(prefix)
    while left > 0:
        parts.append(compressor.compress(zeros[: min(left, MIB)]))
        left -= MIB
    parts.append(compressor.flush())
    return b"".join(parts)
