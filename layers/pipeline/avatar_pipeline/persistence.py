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

from .download import Answered, DownloadFailed, Refused, TooManyRedirects, Unreachable, stream_to_s3
from .errors import ProviderUnavailable, ResultUnavailable
from .fetch import FetchPolicy
from .labelling import staging_key
from .models import Job, PersistedResult, ProviderTask, S3Location, ValidatedMedia
from .output_video import Finishing, finish_staged_video
from .pricing import JobCosts, PriceBook
from .providers.base import ProviderAdapter, TaskRef
from .providers.http import CONNECT_TIMEOUT_SECONDS
from .s3errors import aws_failure
from .timings import job_timings
from .transfer import DEFAULT_PART_BYTES, BadBody, CopyOutcome, Mp4BodyCheck, OutOfTime

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

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
    finishing: Finishing | None = None,
    prices: PriceBook | None = None,
) -> PersistedResult:
    """``seconds_left`` is the Lambda's remaining time; ``read_timeout_seconds`` bounds each wait for bytes.

    With a label or a C2PA signer (``finishing``), the provider's video is staged under ``staging/`` and
    ``video.mp4`` is its finished copy (``output_video``); otherwise it is stored as it came."""
    finishing = finishing or Finishing(label=None, signer=None)
    deadline = time.monotonic() + seconds_left - time_reserved(read_timeout_seconds)
    video_key, result_key = job.output_key("video.mp4"), job.output_key("result.json")
    finished = _already_persisted(s3, output_bucket, result_key, task.task_id)
    if finished is not None:
        return finished
    download_key = staging_key(job.job_id, job.attempt) if finishing.needed else video_key
    for key in {video_key, download_key}:
        _abort_uploads_left_by_a_crash(s3, output_bucket, key)
    problems: list[str] = []
    for _attempt in range(MAX_DOWNLOAD_ATTEMPTS):
        location = adapter.result(job, TaskRef(task.task_id, task.stage))
        try:
            copied = stream_to_s3(
                location.url,
                client=http,
                policy=fetch_policy or FetchPolicy(),
                read_timeout_seconds=read_timeout_seconds,
                s3=s3,
                destination=S3Location(bucket=output_bucket, key=download_key),
                check=Mp4BodyCheck(max_result_bytes),
                what="the video",
                content_type="video/mp4",
                part_bytes=part_bytes,
                deadline=deadline,
            )
        except OutOfTime as error:
            raise ProviderUnavailable(
                f"copying the video of {task.provider} task {task.task_id} ran out of the function's time "
                f"({error}); the upload was aborted"
            ) from error
        except (BadBody, DownloadFailed) as error:
            problems.append(_worth_a_fresh_url(error))
            continue
        break
    else:
        raise ResultUnavailable(
            f"could not copy the video of {task.provider} task {task.task_id} after {MAX_DOWNLOAD_ATTEMPTS} "
            f"attempts with fresh URLs: {'; '.join(problems)}"
        )
    c2pa: dict[str, str | None] = {}
    if finishing.needed:
        video = finish_staged_video(
            s3,
            output_bucket,
            download_key,
            video_key,
            finishing,
            job_id=job.job_id,
            part_bytes=part_bytes,
            deadline=deadline,
        )
        copied, c2pa = video.copied, {"c2pa": video.c2pa, "c2pa_failure": video.c2pa_failure}
    audio = media.audio.duration_seconds if media.audio else None
    costs = (prices or PriceBook()).costs(
        job.provider, copied.duration_seconds, task.reported_units, audio_seconds=audio
    )
    persisted = PersistedResult(
        bucket=output_bucket,
        video_key=video_key,
        result_key=result_key,
        video_uri=f"s3://{output_bucket}/{video_key}",
        result_uri=f"s3://{output_bucket}/{result_key}",
        version_id=copied.version_id,
        size_bytes=copied.size_bytes,
        crc32=copied.crc32,
        duration_seconds=copied.duration_seconds,
        estimated_cost_usd=costs.estimated_cost_usd,
        actual_units=costs.actual_units,
        actual_cost_usd=costs.actual_cost_usd,
        aigc_meta_tagged=location.aigc_meta_tagged,
        aigc_label=finishing.label.model_dump() if finishing.label is not None else None,
        **c2pa,
        persisted_at=now,
        timings=job_timings(job, task, now),
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
            "checksum": {"algorithm": "CRC32", "type": "FULL_OBJECT", "value": copied.crc32},
            "duration_seconds": copied.duration_seconds,
        },
        "timings": persisted.timings or job_timings(job, task, persisted.persisted_at),
        "estimated_cost_usd": persisted.estimated_cost_usd,
        **JobCosts(persisted.estimated_cost_usd, persisted.actual_units, persisted.actual_cost_usd).reported(
            persisted.duration_seconds
        ),
        "aigc_meta_tagged": persisted.aigc_meta_tagged,
        "aigc_label": _aigc_label_record(persisted),
        "c2pa": persisted.c2pa,
        **({"c2pa_error": persisted.c2pa_failure} if persisted.c2pa_failure else {}),
    }


def _aigc_label_record(persisted: PersistedResult) -> dict[str, Any] | None:
    """The fields written into video.mp4, and whether the provider tagged its own file too (Volcengine)."""
    if persisted.aigc_label is None:
        return None
    return {"fields": persisted.aigc_label, "provider_tagged": persisted.aigc_meta_tagged}


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
        crc32=(output.get("checksum") or {}).get("value"),  # none in a result.json from before checksums
        duration_seconds=output.get("duration_seconds"),
        estimated_cost_usd=document.get("estimated_cost_usd"),
        actual_units=document.get("actual_units"),
        actual_cost_usd=document.get("actual_cost_usd"),
        aigc_meta_tagged=document.get("aigc_meta_tagged"),
        aigc_label=(document.get("aigc_label") or {}).get("fields"),
        c2pa=document.get("c2pa"),
        c2pa_failure=document.get("c2pa_error"),
        persisted_at=document["timings"]["persisted_at"],
        timings=document["timings"],
    )


def _abort_uploads_left_by_a_crash(s3: S3Client, bucket: str, key: str) -> None:
    """An attempt killed mid-copy leaves its multipart upload open; nothing else writes this job's key."""
    try:
        for upload in s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []):
            if upload["Key"] == key:
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"aborting uploads left open at s3://{bucket}/{key}") from error


def _worth_a_fresh_url(error: BadBody | DownloadFailed) -> str:
    """What went wrong with a result URL, if a fresh URL from the provider may fix it; raises the contract error
    otherwise (a passing failure is retried by the state machine)."""
    if isinstance(error, Refused) and error.unresolvable:
        raise ProviderUnavailable(f"the result URL's host did not resolve: {error}") from error
    if isinstance(error, Answered):
        if error.status not in EXPIRED_STATUSES:
            raise ProviderUnavailable(f"downloading the result answered HTTP {error.status}") from error
        return f"the result URL answered HTTP {error.status} (expired or revoked)"
    if isinstance(error, Unreachable):
        raise ProviderUnavailable(f"downloading the result {'' if error.timed_out else 'failed: '}{error}") from error
    if isinstance(error, TooManyRedirects):
        raise ResultUnavailable(f"the result URL {error}") from error
    return str(error)
