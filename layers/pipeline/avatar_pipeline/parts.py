"""The parts of one multipart upload, sent on a few threads while the body keeps arriving.

At most ``in_flight`` parts are held by the uploaders; ``add`` blocks while they are all busy, so memory stays
within ``in_flight + 1`` parts whatever the speeds of the download and of S3. The object's SHA-256 (for
result.json) is computed once, over the parts in order, on a thread of its own. Each part carries a CRC
(``PART_CHECKSUM``) that S3 checks: over HTTPS botocore sends it as a trailer and signs the payload as unsigned,
so no second SHA-256 pass runs over the body.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from botocore.compat import HAS_CRT
from botocore.exceptions import BotoCoreError, ClientError

from .s3errors import aws_failure

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import ChecksumAlgorithmType
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

UPLOAD_THREADS = 2
# CRC64NVME is nearly free with botocore's CRT; without it (the Lambda runtime) CRC32 is the fast one botocore has.
PART_CHECKSUM: ChecksumAlgorithmType = "CRC64NVME" if HAS_CRT else "CRC32"


class Parts:
    """Chunks gathered into parts of at least ``part_bytes``, each handed to an uploader thread once full."""

    def __init__(
        self, s3: S3Client, bucket: str, key: str, upload_id: str, part_bytes: int, *, in_flight: int = UPLOAD_THREADS
    ) -> None:
        self._s3, self._bucket, self._key, self._upload_id = s3, bucket, key, upload_id
        self._part_bytes = part_bytes
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._slots = threading.BoundedSemaphore(in_flight)
        self._pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="upload-part")
        self._sent: list[Future[CompletedPartTypeDef]] = []
        # One thread hashes the parts in order, off the thread that reads the download.
        self._digest = hashlib.sha256()
        self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash-part")
        self._hashing: Future[None] = Future()
        self._hashing.set_result(None)

    def add(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= self._part_bytes:
            self._send()

    def complete(self) -> tuple[str | None, str]:
        """Sends what is buffered (an empty body is one empty part), waits for every part, completes; the object's
        version id and SHA-256. A failed part raises its contract error (the first failed part's, in part order)."""
        if self._chunks or not self._sent:
            self._send()
        done = [future.result() for future in self._sent]
        self._hashing.result()
        target = f"s3://{self._bucket}/{self._key}"
        try:
            completed = self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": done}
            )
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, f"completing the upload to {target}") from error
        return completed.get("VersionId"), self._digest.hexdigest()

    def close(self) -> None:
        """Waits for the parts being sent: an abort must come after them, or a part could outlive it."""
        wait(self._sent)
        self._pool.shutdown()
        self._hasher.shutdown()

    def _send(self) -> None:
        self._raise_a_failure()
        body = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        self._hashing.result()  # at most one part waits to be hashed
        self._hashing = self._hasher.submit(self._digest.update, body)
        self._slots.acquire()
        future = self._pool.submit(self._upload, len(self._sent) + 1, body)
        future.add_done_callback(lambda _future: self._slots.release())
        self._sent.append(future)

    def _raise_a_failure(self) -> None:
        """Stops the copy at the first part that failed, rather than reading the rest of the body for nothing."""
        for future in self._sent:
            if future.done() and future.exception() is not None:
                future.result()

    def _upload(self, number: int, body: bytes) -> CompletedPartTypeDef:
        try:
            answer = self._s3.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=body,
                ChecksumAlgorithm=PART_CHECKSUM,
            )
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, f"uploading part {number} to s3://{self._bucket}/{self._key}") from error
        return {"ETag": answer["ETag"], "PartNumber": number}
