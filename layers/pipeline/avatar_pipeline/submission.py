"""Submit: presign the inputs inside this step, create the provider task, schedule the first check."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .inputs import presigned_inputs
from .models import Job, ProviderTask, ValidatedMedia
from .polling import PollPolicy
from .providers.base import ProviderAdapter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Used when the audio's duration is unknown before submission: bytes per second of a 128 kbit/s track.
ASSUMED_AUDIO_BYTES_PER_SECOND = 16_000


def submit_job(
    job: Job,
    media: ValidatedMedia,
    *,
    adapter: ProviderAdapter,
    s3: S3Client,
    policy: PollPolicy,
    presign_seconds: int,
    now: datetime,
) -> ProviderTask:
    task = adapter.submit(job, presigned_inputs(media, s3, presign_seconds))
    estimate = adapter.capabilities.generation_seconds_per_audio_second * audio_seconds(media)
    deadline = now + timedelta(seconds=policy.deadline_seconds)
    return ProviderTask(
        provider=job.provider,
        task_id=task.task_id,
        stage=task.stage,
        submitted_at=now,
        deadline=deadline,
        next_wait_seconds=policy.first_wait(estimate, now=now, deadline=deadline),
        estimated_generation_seconds=round(estimate, 1),
    )


def audio_seconds(media: ValidatedMedia) -> float:
    if media.audio is None:
        return 10.0
    if media.audio.duration_seconds is not None:
        return media.audio.duration_seconds
    return media.audio.size_bytes / ASSUMED_AUDIO_BYTES_PER_SECOND
