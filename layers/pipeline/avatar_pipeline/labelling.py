"""The labelled copy of a staged video: the provider's file, already in the output bucket under ``staging/``,
rewritten into the job's ``video.mp4`` with its AIGC label, without re-encoding and in bounded memory.

The plan (``mp4_label_plan``) is the output as source ranges and new bytes; here the ranges are streamed out of the
staged object with ranged GETs and the whole goes through the same multipart upload as the provider's download, so
``video.mp4`` only appears, labelled, when its upload completes, and its checksum is that of the labelled bytes.
A staged file that is finished already (labelled and signed) is copied the same way, as it is.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .errors import ProviderUnavailable
from .mp4_boxes import Mp4Error, RangeReader
from .mp4_label_plan import Bytes, Copy, LabelPlan, prepare_label_plan
from .s3errors import aws_failure
from .transfer import DEFAULT_PART_BYTES, CopyOutcome, Mp4BodyCheck, copy_stream_to_s3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STAGING_PREFIX = "staging/"
# The media is read in ranges of RANGE_BYTES, RANGES_IN_FLIGHT at a time (one GET stream is far below S3's rate):
# at most RANGES_IN_FLIGHT * RANGE_BYTES held, besides the upload's parts.
RANGE_BYTES = 8 * 1024 * 1024
RANGES_IN_FLIGHT = 4


class LabelRefused(Exception):
    """The staged video cannot carry the label: malformed, or a layout the labeller does not rewrite."""


def staging_key(job_id: str, attempt: int) -> str:
    return f"{STAGING_PREFIX}{job_id}/{attempt}/provider.mp4"


def label_staged_video(
    s3: S3Client,
    bucket: str,
    staged_key: str,
    video_key: str,
    label_json: str,
    *,
    part_bytes: int = DEFAULT_PART_BYTES,
    deadline: float | None = None,
) -> CopyOutcome:
    source = f"s3://{bucket}/{staged_key}"
    try:
        size = s3.head_object(Bucket=bucket, Key=staged_key)["ContentLength"]
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"reading {source}") from error
    try:
        plan = prepare_label_plan(_range_reader(s3, bucket, staged_key), size, label_json)
    except Mp4Error as error:
        raise LabelRefused(f"the video at {source} cannot be labelled: {error}") from error
    return _store(s3, bucket, staged_key, video_key, plan, part_bytes=part_bytes, deadline=deadline)


def copy_staged_video(
    s3: S3Client,
    bucket: str,
    staged_key: str,
    video_key: str,
    *,
    part_bytes: int = DEFAULT_PART_BYTES,
    deadline: float | None = None,
) -> CopyOutcome:
    """The staged file as ``video.mp4``, byte for byte, checked as an MP4 like every output."""
    try:
        size = s3.head_object(Bucket=bucket, Key=staged_key)["ContentLength"]
    except (ClientError, BotoCoreError) as error:
        # The file was staged by this attempt moments ago: missing or refused, a fresh attempt stages it again.
        raise aws_failure(error, f"reading s3://{bucket}/{staged_key}", permanent=ProviderUnavailable) from error
    plan = LabelPlan(segments=(Copy(0, size),), source_size=size, moov_growth=0)
    return _store(s3, bucket, staged_key, video_key, plan, part_bytes=part_bytes, deadline=deadline)


def _store(
    s3: S3Client,
    bucket: str,
    staged_key: str,
    video_key: str,
    plan: LabelPlan,
    *,
    part_bytes: int,
    deadline: float | None,
) -> CopyOutcome:
    return copy_stream_to_s3(
        _labelled_chunks(s3, bucket, staged_key, plan),
        s3=s3,
        bucket=bucket,
        key=video_key,
        declared_length=plan.size,
        check=Mp4BodyCheck(),
        part_bytes=part_bytes,
        deadline=deadline,
    )


def discard_staged_video(s3: S3Client, bucket: str, staged_key: str) -> None:
    """Best effort: the bucket's lifecycle rule expires whatever is left under ``staging/``."""
    with contextlib.suppress(ClientError, BotoCoreError):
        s3.delete_object(Bucket=bucket, Key=staged_key)


def _range_reader(s3: S3Client, bucket: str, key: str) -> RangeReader:
    def read(offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")["Body"]
            return body.read()
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, f"reading s3://{bucket}/{key}") from error

    return read


def _labelled_chunks(s3: S3Client, bucket: str, key: str, plan: LabelPlan) -> Iterator[bytes]:
    read = _range_reader(s3, bucket, key)
    with ThreadPoolExecutor(max_workers=RANGES_IN_FLIGHT, thread_name_prefix="read-range") as pool:
        for segment in plan.segments:
            if isinstance(segment, Bytes):
                yield segment.data
                continue
            ahead: deque[Future[bytes]] = deque()
            for start in range(segment.start, segment.end, RANGE_BYTES):
                ahead.append(pool.submit(read, start, min(RANGE_BYTES, segment.end - start)))
                if len(ahead) == RANGES_IN_FLIGHT:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
