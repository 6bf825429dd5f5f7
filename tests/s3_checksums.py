"""The checksum a copy records for an object, computed here independently, and as S3 (moto) reports it."""

from __future__ import annotations

import base64
import zlib
from typing import Any


def crc32_of(data: bytes) -> str:
    """A body's CRC-32 the way S3 writes it: four big-endian bytes in base64."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def stored_crc32(s3: Any, bucket: str, key: str) -> str:
    """The object's FULL_OBJECT CRC-32 as S3 computed it over the bytes it assembled."""
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumType"] == "FULL_OBJECT"
    return str(head["ChecksumCRC32"])
