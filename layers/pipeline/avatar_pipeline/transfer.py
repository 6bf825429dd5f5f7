"""Streams a body into an S3 multipart upload in bounded memory, checking it as it arrives.

The object appears under its final key only when ``CompleteMultipartUpload`` succeeds, so a crash or a bad
body leaves nothing behind but an aborted upload. What "a good body" means is a ``BodyCheck``: a complete
MP4 for results, a size cap for fetched inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .mp4 import Mp4Scanner

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

DEFAULT_PART_BYTES = 8 * 1024 * 1024
MIN_PART_BYTES = 5 * 1024 * 1024


class BadBody(Exception):
    """The body is not what was expected (incomplete, wrong type, too large)."""


class BodyCheck(Protocol):
    def feed(self, chunk: bytes, total: int) -> None:
        """Called for each chunk with the running total; raises ``BadBody`` to stop the upload."""

    def finish(self, total: int) -> None:
        """Called once the body ended; raises ``BadBody`` if it is not complete."""


@dataclass(frozen=True)
class CopyOutcome:
    size_bytes: int
    sha256: str
    duration_seconds: float | None
    version_id: str | None


class Mp4BodyCheck:
    def __init__(self) -> None:
        self.scanner = Mp4Scanner()

    def feed(self, chunk: bytes, total: int) -> None:
        self.scanner.feed(chunk)
        if self.scanner.first_box is not None and self.scanner.first_box != "ftyp":
            raise BadBody(f"the body is not an MP4 (starts with {bytes(chunk[:16])!r})")

    def finish(self, total: int) -> None:
        if total == 0 or self.scanner.first_box != "ftyp":
            raise BadBody("the body is empty or not an MP4")
        if not self.scanner.complete:
            detail = self.scanner.malformed or "cut mid-box"
            raise BadBody(f"the MP4 is incomplete or malformed after {total} bytes ({detail})")


class SizeCap:
    def __init__(self, max_bytes: int, what: str) -> None:
        self.max_bytes = max_bytes
        self.what = what

    def feed(self, chunk: bytes, total: int) -> None:
        if total > self.max_bytes:
            raise BadBody(f"{self.what} is larger than {self.max_bytes / 2**20:.0f} MiB")

    def finish(self, total: int) -> None:
        if total == 0:
            raise BadBody(f"{self.what} is empty (0 bytes)")


def copy_stream_to_s3(
    chunks: Iterable[bytes],
    *,
    s3: S3Client,
    bucket: str,
    key: str,
    declared_length: int | None,
    check: BodyCheck | None = None,
    part_bytes: int = DEFAULT_PART_BYTES,
    content_type: str = "video/mp4",
) -> CopyOutcome:
    check = check if check is not None else Mp4BodyCheck()
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"]
    try:
        return _upload_parts(chunks, s3, bucket, key, upload_id, declared_length, check, part_bytes)
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def _upload_parts(
    chunks: Iterable[bytes],
    s3: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    declared_length: int | None,
    check: BodyCheck,
    part_bytes: int,
) -> CopyOutcome:
    digest = hashlib.sha256()
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
        check.feed(chunk, total)
        if declared_length is not None and total > declared_length:
            raise BadBody(f"the body is longer than its declared {declared_length} bytes")
        buffer += chunk
        if len(buffer) >= part_bytes:
            flush()
    if declared_length is not None and total != declared_length:
        raise BadBody(f"the body is truncated: {total} of {declared_length} bytes arrived")
    check.finish(total)
    if buffer or not parts:
        flush()
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    scanner = check.scanner if isinstance(check, Mp4BodyCheck) else None
    return CopyOutcome(
        size_bytes=total,
        sha256=digest.hexdigest(),
        duration_seconds=scanner.duration_seconds if scanner else None,
        version_id=done.get("VersionId"),
    )
