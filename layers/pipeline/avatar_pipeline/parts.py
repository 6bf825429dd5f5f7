"""The parts of one multipart upload, sent on a few threads while the body keeps arriving.

The body lands once in one of ``in_flight + 1`` part buffers reused for the whole upload: memory stays within them
whatever the speeds of the download and of S3, and no part costs a fresh allocation (joining each part into a new
8 MiB object, with the page faults that come with it, was a third of the copy's CPU). A body read from a socket is
received straight into the buffer (``space`` and ``filled``, see ``socket_body``); other bodies are copied in
(``add``). Both block while every buffer is being sent.

Each part's CRC-32 is computed once, on the thread that sends it, and sent with it for S3 to check. The object's
CRC-32 is combined from the parts' (``crc32``), without reading a byte again, and given to
``CompleteMultipartUpload`` as a ``FULL_OBJECT`` checksum: S3 refuses to complete an object that is not exactly
the bytes that were read. The S3 client must not sign payloads (``aws.S3_CONFIG``), or botocore would hash each
part again with SHA-256.
"""

from __future__ import annotations

import queue
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from botocore.exceptions import BotoCoreError, ClientError

from . import crc32
from .s3errors import aws_failure

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

UPLOAD_THREADS = 2


@dataclass(frozen=True)
class SentPart:
    number: int
    etag: str
    crc32: int
    length: int

    def completed(self) -> CompletedPartTypeDef:
        return {"ETag": self.etag, "PartNumber": self.number, "ChecksumCRC32": crc32.encoded(self.crc32)}


class Parts:
    """Bytes gathered into parts of ``part_bytes`` (the last one shorter), each sent on an uploader thread once
    full."""

    def __init__(
        self, s3: S3Client, bucket: str, key: str, upload_id: str, part_bytes: int, *, in_flight: int = UPLOAD_THREADS
    ) -> None:
        self._s3, self._bucket, self._key, self._upload_id = s3, bucket, key, upload_id
        self._part_bytes = part_bytes
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._buffers_to_make = in_flight + 1
        self._buffer: bytearray | None = None
        self._filled = 0
        self._pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="upload-part")
        self._sent: list[Future[SentPart]] = []

    def add(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            space = self.space()
            count = min(len(space), len(view))
            space[:count] = view[:count]
            view = view[count:]
            self.filled(count)

    def space(self) -> memoryview:
        """The free end of the part being filled, to read the body into directly; ``filled`` then says how much was
        written. Waits while every buffer is being sent."""
        buffer = self._buffer if self._buffer is not None else self._take_buffer()
        return memoryview(buffer)[self._filled :]

    def filled(self, count: int) -> None:
        """``count`` more bytes were written into the ``space`` of the part being filled; a full part is sent."""
        self._filled += count
        if self._buffer is not None and self._filled == len(self._buffer):
            self._send()

    def complete(self) -> tuple[str | None, str]:
        """Sends what is buffered (an empty body is one empty part), waits for every part, completes; the object's
        version id and its CRC-32 as S3 writes it. A failed part raises its contract error (the first failed part's,
        in part order)."""
        if self._filled or not self._sent:
            self._send()
        sent = [future.result() for future in self._sent]
        checksum = crc32.encoded(crc32.of_parts((part.crc32, part.length) for part in sent))
        try:
            completed = self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": [part.completed() for part in sent]},
                ChecksumCRC32=checksum,
                ChecksumType="FULL_OBJECT",
            )
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, f"completing the upload to s3://{self._bucket}/{self._key}") from error
        return completed.get("VersionId"), checksum

    def close(self) -> None:
        """Waits for the parts being sent: an abort must come after them, or a part could outlive it."""
        wait(self._sent)
        self._pool.shutdown()

    def _take_buffer(self) -> bytearray:
        """A free buffer, or a new one while fewer than ``in_flight + 1`` exist; else waits for a part to be sent."""
        self._raise_a_failure()
        try:
            buffer = self._free.get_nowait()
        except queue.Empty:
            if self._buffers_to_make:
                self._buffers_to_make -= 1
                buffer = bytearray(self._part_bytes)
            else:
                buffer = self._free.get()  # a part's buffer comes back when it is sent, or failed
        self._buffer = buffer
        return buffer

    def _send(self) -> None:
        self._raise_a_failure()
        buffer, filled = self._buffer, self._filled
        self._buffer, self._filled = None, 0
        number = len(self._sent) + 1
        if buffer is None:  # no byte at all: an empty body is one empty part
            future = self._pool.submit(self._upload, number, b"")
        elif filled < len(buffer):  # the last part: its bytes alone, and the buffer is free again
            future = self._pool.submit(self._upload, number, bytes(memoryview(buffer)[:filled]))
            self._free.put(buffer)
        else:
            future = self._pool.submit(self._upload, number, buffer)
            future.add_done_callback(partial(self._release, buffer))
        self._sent.append(future)

    def _release(self, buffer: bytearray, _sent: Future[SentPart]) -> None:
        """A part's buffer is free once the part is sent, or failed (a retry by botocore happens before)."""
        self._free.put(buffer)

    def _raise_a_failure(self) -> None:
        """Stops the copy at the first part that failed, rather than reading the rest of the body for nothing."""
        for future in self._sent:
            if future.done() and future.exception() is not None:
                future.result()

    def _upload(self, number: int, body: bytes | bytearray) -> SentPart:
        checksum = crc32.of(body)
        try:
            answer = self._s3.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=cast("bytes", body),  # botocore takes a bytearray as it is; the stubs name bytes only
                ChecksumAlgorithm="CRC32",
                ChecksumCRC32=crc32.encoded(checksum),
            )
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, f"uploading part {number} to s3://{self._bucket}/{self._key}") from error
        return SentPart(number, answer["ETag"], checksum, len(body))
