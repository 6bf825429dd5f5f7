"""Streams an HTTP body into an S3 multipart upload in bounded memory, verifying what arrived.

The object appears under its final key only when ``CompleteMultipartUpload`` succeeds, so a crash or a bad
body leaves nothing behind but an aborted upload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .mp4 import Mp4Scanner

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

DEFAULT_PART_BYTES = 8 * 1024 * 1024
MIN_PART_BYTES = 5 * 1024 * 1024


class BadBody(Exception):
    """The downloaded body is not a complete MP4."""


@dataclass(frozen=True)
class CopyOutcome:
    size_bytes: int
    sha256: str
    duration_seconds: float | None
    version_id: str | None


def copy_stream_to_s3(
    chunks: Iterable[bytes],
    *,
    s3: S3Client,
    bucket: str,
    key: str,
    declared_length: int | None,
    part_bytes: int = DEFAULT_PART_BYTES,
    content_type: str = "video/mp4",
) -> CopyOutcome:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"]
    try:
        outcome = _upload_parts(chunks, s3, bucket, key, upload_id, declared_length, part_bytes)
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return outcome


def _upload_parts(
    chunks: Iterable[bytes],
    s3: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    declared_length: int | None,
    part_bytes: int,
) -> CopyOutcome:
    digest = hashlib.sha256()
    scanner = Mp4Scanner()
    buffer = bytearray()
    parts: list[CompletedPartTypeDef] = []
    total = 0

    def flush() -> None:
        number = len(parts) + 1
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(buffer))
        parts.append({"ETag": etag["ETag"], "PartNumber": number})
        buffer.clear()

    for chunk in chunks:
        if not chunk:
            continue
        total += len(chunk)
        digest.update(chunk)
        scanner.feed(chunk)
        if scanner.first_box is not None and scanner.first_box != "ftyp":
            raise BadBody(f"the body is not an MP4 (starts with {bytes(chunk[:16])!r})")
        if declared_length is not None and total > declared_length:
            raise BadBody(f"the body is longer than its declared {declared_length} bytes")
        buffer += chunk
        if len(buffer) >= part_bytes:
            flush()
    if declared_length is not None and total != declared_length:
        raise BadBody(f"the body is truncated: {total} of {declared_length} bytes arrived")
    if total == 0 or scanner.first_box != "ftyp":
        raise BadBody("the body is empty or not an MP4")
    if not scanner.complete:
        raise BadBody(f"the MP4 is incomplete or malformed after {total} bytes ({scanner.malformed or 'cut mid-box'})")
    if buffer or not parts:
        flush()
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    return CopyOutcome(
        size_bytes=total,
        sha256=digest.hexdigest(),
        duration_seconds=scanner.duration_seconds,
        version_id=done.get("VersionId"),
    )
