"""PersistResult: copy the provider's video into the output bucket, verified, with result.json beside it.

The copy is bounded in size (``max_result_bytes``, after decoding) and in time: it must end, aborted if need
be, while the Lambda still has time to clean up, rather than be killed mid-copy.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from .decoding import declared_length, response_body
from .errors import ProviderUnavailable, ResultUnavailable
from .fetch import FetchPolicy, Unresolvable, UnsafeUrl, pin, redirect_target
from .models import Job, PersistedResult, ProviderTask, ValidatedMedia
from .providers.base import ProviderAdapter, TaskRef
from .s3errors import aws_failure
from .transfer import DEFAULT_PART_BYTES, BadBody, CopyOutcome, Mp4BodyCheck, OutOfTime, copy_stream_to_s3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONNECT_TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 3
MAX_DOWNLOAD_ATTEMPTS = 3
EXPIRED_STATUSES = frozenset({401, 403, 404, 410})
DEFAULT_MAX_RESULT_BYTES = 2 * 1024**3
FINISH_SECONDS = 10.0  # to abort the upload, or complete it and write result.json


def time_reserved(read_timeout_seconds: float) -> float:
    """What must be left of the Lambda's time when the copy is stopped: past the last check of the deadline, a
    connect and two reads (headers, then body) may each still wait their full timeout before the finish."""
    return CONNECT_TIMEOUT_SECONDS + 2 * read_timeout_seconds + FINISH_SECONDS


def persist_result(
    job: Job,
    task: ProviderTask,
    media: ValidatedMedia,
    *,
    adapter: ProviderAdapter,
    s3: S3Client,
    http: httpx.Client,
    output_bucket: str,
    now: datetime,
    max_result_bytes: int,
    read_timeout_seconds: float,
    seconds_left: float,
    part_bytes: int = DEFAULT_PART_BYTES,
    fetch_policy: FetchPolicy | None = None,
) -> PersistedResult:
    """``seconds_left`` is the Lambda's remaining time; ``read_timeout_seconds`` bounds each wait for bytes."""
    deadline = time.monotonic() + seconds_left - time_reserved(read_timeout_seconds)
    download = _Download(
        http,
        fetch_policy or FetchPolicy(),
        httpx.Timeout(CONNECT_TIMEOUT_SECONDS, read=read_timeout_seconds),
        max_result_bytes,
        deadline,
    )
    video_key, result_key = job.output_key("video.mp4"), job.output_key("result.json")
    finished = _already_persisted(s3, output_bucket, result_key, task.task_id)
    if finished is not None:
        return finished
    _abort_uploads_left_by_a_crash(s3, output_bucket, video_key)
    problems: list[str] = []
    for _attempt in range(MAX_DOWNLOAD_ATTEMPTS):
        location = adapter.result(job, TaskRef(task.task_id, task.stage))
        try:
            copied = download.copy(location.url, s3=s3, bucket=output_bucket, key=video_key, part_bytes=part_bytes)
        except (_Expired, BadBody, UnsafeUrl) as error:
            problems.append(str(error))
            continue
        except OutOfTime as error:
            raise ProviderUnavailable(
                f"copying the video of {task.provider} task {task.task_id} ran out of the function's time "
                f"({error}); the upload was aborted"
            ) from error
        break
    else:
        raise ResultUnavailable(
            f"could not copy the video of {task.provider} task {task.task_id} after {MAX_DOWNLOAD_ATTEMPTS} "
            f"attempts with fresh URLs: {'; '.join(problems)}"
        )
    cost = adapter.capabilities.estimated_cost_usd(copied.duration_seconds)
    persisted = PersistedResult(
        bucket=output_bucket,
        video_key=video_key,
        result_key=result_key,
        video_uri=f"s3://{output_bucket}/{video_key}",
        result_uri=f"s3://{output_bucket}/{result_key}",
        version_id=copied.version_id,
        size_bytes=copied.size_bytes,
        sha256=copied.sha256,
        duration_seconds=copied.duration_seconds,
        estimated_cost_usd=cost,
        aigc_meta_tagged=location.aigc_meta_tagged,
        persisted_at=now,
    )
    body = json.dumps(result_document(job, task, media, persisted, copied), indent=2, sort_keys=True)
    try:
        s3.put_object(Bucket=output_bucket, Key=result_key, Body=body.encode(), ContentType="application/json")
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"writing {persisted.result_uri}") from error
    return persisted


def result_document(
    job: Job, task: ProviderTask, media: ValidatedMedia, persisted: PersistedResult, copied: CopyOutcome
) -> dict[str, Any]:
    completed = task.completed_at or persisted.persisted_at
    return {
        "job_id": job.job_id,
        "provider": job.provider,
        "provider_task_id": task.task_id,
        "trigger": job.trigger,
        "manifest": job.manifest.uri if job.manifest else None,
        "request": job.request.model_dump(mode="json", exclude_none=True),
        "inputs": media.model_dump(mode="json", exclude_none=True),
        "output": {
            "video_uri": persisted.video_uri,
            "version_id": persisted.version_id,
            "size_bytes": copied.size_bytes,
            "sha256": copied.sha256,
            "duration_seconds": copied.duration_seconds,
        },
        "timings": {
            "requested_at": job.requested_at.isoformat(),
            "submitted_at": task.submitted_at.isoformat(),
            "generation_completed_at": completed.isoformat(),
            "persisted_at": persisted.persisted_at.isoformat(),
            "generation_seconds": round((completed - task.submitted_at).total_seconds(), 3),
            "total_seconds": round((persisted.persisted_at - job.requested_at).total_seconds(), 3),
            "status_checks": task.polls,
        },
        "estimated_cost_usd": persisted.estimated_cost_usd,
        "aigc_meta_tagged": persisted.aigc_meta_tagged,
    }


def _already_persisted(s3: S3Client, bucket: str, result_key: str, task_id: str) -> PersistedResult | None:
    """A re-run after a crash that came once everything was stored: return what is there, copy nothing."""
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=result_key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"reading s3://{bucket}/{result_key}") from error
    if document.get("provider_task_id") != task_id:
        return None
    output = document["output"]
    video_uri = output["video_uri"]
    return PersistedResult(
        bucket=bucket,
        video_key=video_uri.split("/", 3)[3],
        result_key=result_key,
        video_uri=video_uri,
        result_uri=f"s3://{bucket}/{result_key}",
        version_id=output.get("version_id"),
        size_bytes=output["size_bytes"],
        sha256=output["sha256"],
        duration_seconds=output.get("duration_seconds"),
        estimated_cost_usd=document.get("estimated_cost_usd"),
        aigc_meta_tagged=document.get("aigc_meta_tagged"),
        persisted_at=document["timings"]["persisted_at"],
    )


def _abort_uploads_left_by_a_crash(s3: S3Client, bucket: str, key: str) -> None:
    """An attempt killed mid-copy leaves its multipart upload open; nothing else writes this job's key."""
    try:
        for upload in s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []):
            if upload["Key"] == key:
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"aborting uploads left open at s3://{bucket}/{key}") from error


class _Expired(Exception):
    pass


class _Download:
    """One provider URL's video into S3, following checked redirects, within the size cap and the deadline."""

    def __init__(
        self, http: httpx.Client, policy: FetchPolicy, timeout: httpx.Timeout, max_bytes: int, deadline: float
    ) -> None:
        self.http = http
        self.policy = policy
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.deadline = deadline

    def copy(self, url: str, *, s3: S3Client, bucket: str, key: str, part_bytes: int) -> CopyOutcome:
        for _hop in range(MAX_REDIRECTS + 1):
            if time.monotonic() > self.deadline:
                raise OutOfTime("no time was left to start the download")
            try:
                pinned = pin(url, self.policy)
            except Unresolvable as error:
                raise ProviderUnavailable(f"the result URL's host did not resolve: {error}") from error
            try:
                with self.http.stream(
                    "GET",
                    pinned.url,
                    headers=pinned.headers,
                    extensions=pinned.extensions,
                    timeout=self.timeout,
                    follow_redirects=False,
                ) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = redirect_target(url, response.headers["location"])
                        continue
                    return self._store(response, s3=s3, bucket=bucket, key=key, part_bytes=part_bytes)
            except httpx.RemoteProtocolError as error:
                raise BadBody(f"the download was cut off: {error}") from error
            except httpx.TimeoutException as error:
                raise ProviderUnavailable(f"downloading the result timed out ({type(error).__name__})") from error
            except httpx.TransportError as error:
                raise ProviderUnavailable(f"downloading the result failed: {type(error).__name__}: {error}") from error
        raise ResultUnavailable(f"the result URL redirected more than {MAX_REDIRECTS} times")

    def _store(self, response: httpx.Response, *, s3: S3Client, bucket: str, key: str, part_bytes: int) -> CopyOutcome:
        if response.status_code in EXPIRED_STATUSES:
            raise _Expired(f"the result URL answered HTTP {response.status_code} (expired or revoked)")
        if response.status_code != 200:
            raise ProviderUnavailable(f"downloading the result answered HTTP {response.status_code}")
        declared = declared_length(response)
        if declared is not None and declared > self.max_bytes:
            raise BadBody(f"the video is {declared} bytes; the limit is {self.max_bytes} bytes")
        chunks, length = response_body(response, what="the video")
        return copy_stream_to_s3(
            chunks,
            s3=s3,
            bucket=bucket,
            key=key,
            declared_length=length,
            check=Mp4BodyCheck(self.max_bytes),
            part_bytes=part_bytes,
            deadline=self.deadline,
        )
