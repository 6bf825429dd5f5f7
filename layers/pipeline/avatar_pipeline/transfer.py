"""Streams a body into an S3 multipart upload in bounded memory, checking it as it arrives.

The object appears under its final key only when ``CompleteMultipartUpload`` succeeds, so a crash or a bad
body leaves nothing behind but an aborted upload. What "a good body" means is a ``BodyCheck``: a complete
MP4 within a size cap for results, a size cap for fetched inputs. S3 failures are raised as contract errors.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .mp4 import Mp4Scanner
from .parts import Parts
from .s3errors import aws_failure
from .socket_body import SocketBody

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_PART_BYTES = 8 * 1024 * 1024


class BadBody(Exception):
    """The body is not what was expected (incomplete, wrong type, too large)."""


class OutOfTime(Exception):
    """The body was still arriving when the copy's deadline passed."""


class BodyCheck(Protocol):
    def declared(self, length: int) -> None:
        """Called with the length the response declares, before any byte is read; raises ``BadBody`` to refuse."""

    def feed(self, chunk: bytes | memoryview, total: int) -> None:
        """Called for each chunk with the running total; raises ``BadBody`` to stop the upload."""

    def finish(self, total: int) -> None:
        """Called once the body ended; raises ``BadBody`` if it is not complete."""


@dataclass(frozen=True)
class CopyOutcome:
    size_bytes: int
    crc32: str  # the object's FULL_OBJECT CRC-32 as S3 writes it (base64), checked by S3 at completion
    duration_seconds: float | None
    version_id: str | None


class Mp4BodyCheck:
    def __init__(self, max_bytes: int | None = None) -> None:
        self.scanner = Mp4Scanner()
        self.max_bytes = max_bytes

    def declared(self, length: int) -> None:
        if self.max_bytes is not None and length > self.max_bytes:
            raise BadBody(f"the video is {length} bytes; the limit is {self.max_bytes} bytes")

    def feed(self, chunk: bytes | memoryview, total: int) -> None:
        if self.max_bytes is not None and total > self.max_bytes:
            raise BadBody(f"the video is larger than the limit of {self.max_bytes} bytes")
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

    def declared(self, length: int) -> None:
        if length > self.max_bytes:
            raise BadBody(f"{self.what} is {length / 2**20:.1f} MiB; the limit is {self.max_bytes / 2**20:.0f} MiB")

    def feed(self, chunk: bytes | memoryview, total: int) -> None:
        if total > self.max_bytes:
            raise BadBody(f"{self.what} is larger than {self.max_bytes / 2**20:.0f} MiB")

    def finish(self, total: int) -> None:
        if total == 0:
            raise BadBody(f"{self.what} is empty (0 bytes)")


def copy_stream_to_s3(
    body: Iterable[bytes] | SocketBody,
    *,
    s3: S3Client,
    bucket: str,
    key: str,
    declared_length: int | None,
    check: BodyCheck | None = None,
    part_bytes: int = DEFAULT_PART_BYTES,
    content_type: str = "video/mp4",
    deadline: float | None = None,
) -> CopyOutcome:
    """``body`` is chunks, or a ``SocketBody`` received straight into the parts. ``deadline`` is a ``time.monotonic()``
    instant: a body still arriving then raises ``OutOfTime``."""
    check = check if check is not None else Mp4BodyCheck()
    target = f"s3://{bucket}/{key}"
    try:
        upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
        )["UploadId"]
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"starting an upload to {target}") from error
    parts = Parts(s3, bucket, key, upload_id, part_bytes)
    try:
        outcome = _upload_parts(body, parts, declared_length, check, deadline)
    except BaseException:
        parts.close()
        # The failure being raised says more than a failed abort would; an upload left open is aborted by
        # the bucket's lifecycle rule, or by the next attempt of PersistResult.
        with contextlib.suppress(ClientError, BotoCoreError):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    parts.close()
    return outcome


def _upload_parts(
    body: Iterable[bytes] | SocketBody,
    parts: Parts,
    declared_length: int | None,
    check: BodyCheck,
    deadline: float | None,
) -> CopyOutcome:
    if isinstance(body, SocketBody):
        total = _receive(body, parts, check, deadline)
    else:
        total = _add_chunks(body, parts, declared_length, check, deadline)
    if declared_length is not None and total != declared_length:
        raise BadBody(f"the body is truncated: {total} of {declared_length} bytes arrived")
    check.finish(total)
    version_id, checksum = parts.complete()
    scanner = check.scanner if isinstance(check, Mp4BodyCheck) else None
    return CopyOutcome(
        size_bytes=total,
        crc32=checksum,
        duration_seconds=scanner.duration_seconds if scanner else None,
        version_id=version_id,
    )


def _add_chunks(
    chunks: Iterable[bytes], parts: Parts, declared_length: int | None, check: BodyCheck, deadline: float | None
) -> int:
    total = 0
    for chunk in chunks:
        _check_time(deadline, total)
        if not chunk:
            continue
        total += len(chunk)
        check.feed(chunk, total)
        if declared_length is not None and total > declared_length:
            raise BadBody(f"the body is longer than its declared {declared_length} bytes")
        parts.add(chunk)
    return total


def _receive(body: SocketBody, parts: Parts, check: BodyCheck, deadline: float | None) -> int:
    """Reads ``body`` into the parts up to its length; each piece is checked before its part is sent."""
    total = 0
    while total < body.length:
        _check_time(deadline, total)
        space = parts.space()[: body.length - total]
        count = body.readinto(space)
        if not count:  # as httpx says it: the peer closed the connection before the whole body was sent
            raise BadBody(f"the download was cut off: {total} of {body.length} bytes arrived")
        total += count
        check.feed(space[:count], total)
        parts.filled(count)
    return total


def _check_time(deadline: float | None, total: int) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise OutOfTime(f"the body was still arriving when time ran out, {total} bytes in")
