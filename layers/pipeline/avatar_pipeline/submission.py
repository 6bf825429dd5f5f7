"""Creating paid provider tasks: never twice, never without a record naming them.

The intent is recorded before the call and the task id right after it (``ledger.py``). A call whose outcome is
unknown (no answer, a gateway error) is never repeated blindly: where the provider can find a task by the
external id it was created with, the next try looks it up first (and, if absent, sends again under the same
external id, which the provider refuses to duplicate); where it cannot, the job ends in ``JobTimedOut`` naming
the task that may exist, so a person can recover it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import JobTimedOut, PipelineError, ProviderUnavailable
from .inputs import presigned_inputs
from .ledger import Ledger, Submission
from .models import Job, ProviderTask, ValidatedMedia
from .polling import PollPolicy
from .providers.base import GENERATE, ExternalIdTaken, InputsFactory, ProviderAdapter, TaskRef
from .providers.classify import SubmitOutcomeUnknown

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Used when the audio's duration is unknown before submission: bytes per second of a 128 kbit/s track.
ASSUMED_AUDIO_BYTES_PER_SECOND = 16_000
EXTERNAL_ID_PREFIX = "avp-"
CallbackUrl = Callable[[], str]
"""Makes (once per attempt) the URL the provider calls back."""


def submit_job(
    job: Job,
    media: ValidatedMedia,
    *,
    adapter: ProviderAdapter,
    ledger: Ledger,
    s3: S3Client,
    policy: PollPolicy,
    presign_seconds: int,
    deployment_id: str,
    now: datetime,
    callback_url: CallbackUrl | None = None,
    estimate_correction: float = 1.0,
) -> ProviderTask:
    """``callback_url`` makes the address a provider that ``calls_back`` is given for this attempt;
    ``estimate_correction``: what this provider's jobs took ÷ its profile's estimate (``estimates.py``)."""
    stage = adapter.first_stage(job)
    callback = callback_url() if callback_url is not None and adapter.calls_back else None
    task = submit_stage(
        job,
        stage,
        adapter=adapter,
        ledger=ledger,
        inputs=lambda: presigned_inputs(media, s3, presign_seconds),
        deployment_id=deployment_id,
        now=now,
        callback_url=callback,
    )
    profile = adapter.capabilities.generation_seconds_per_audio_second * audio_seconds(media)
    estimate = profile * estimate_correction
    deadline = now + timedelta(seconds=policy.deadline_seconds)
    # A preparatory stage (Volcengine's subject check) is short: the wait for the generation starts after it.
    first_wait = policy.first_wait(
        estimate if task.stage == GENERATE else 0.0, now=now, deadline=deadline, callbacks=callback is not None
    )
    known_length = media.audio is not None and media.audio.duration_seconds is not None
    return ProviderTask(
        provider=job.provider,
        task_id=task.task_id,
        stage=task.stage,
        submitted_at=now,
        deadline=deadline,
        next_wait_seconds=first_wait,
        estimated_generation_seconds=round(estimate, 1),
        callbacks=callback is not None,
        profile_estimate_seconds=round(profile, 1) if known_length else None,
    )


def submit_stage(
    job: Job,
    stage: str,
    *,
    adapter: ProviderAdapter,
    ledger: Ledger,
    inputs: InputsFactory,
    deployment_id: str,
    now: datetime,
    callback_url: str | None = None,
) -> TaskRef:
    """The task of ``stage`` for this attempt, created at most once whatever crashed or went unanswered before."""
    intent = Submission(
        stage=stage,
        state="intent",
        provider=job.provider,
        intent_at=now.isoformat(),
        external_id=external_task_id(deployment_id, job.job_id, job.attempt, stage),
        inputs={"image": job.image.display, **({"audio": job.audio.display} if job.audio else {})},
    )
    earlier = ledger.begin(intent, now)
    if earlier is not None and earlier.state == "accepted" and earlier.task_id:
        return TaskRef(earlier.task_id, stage)
    if earlier is not None:
        # A run before this one sent it and never learned the answer (it crashed, or timed out).
        found = _look_up(job, earlier, adapter, ledger, now, "an earlier try of this step sent it and got no answer")
        if found is not None:
            return found
        intent = earlier
    try:
        created = adapter.submit(job, inputs(), stage=stage, external_id=intent.external_id, callback_url=callback_url)
    except SubmitOutcomeUnknown as unknown:
        if adapter.finds_tasks_by_external_id:
            raise ProviderUnavailable(f"{unknown.cause}; the next try looks it up before sending again") from None
        raise _give_up(job, intent, ledger, now, unknown.cause) from None
    except ExternalIdTaken as taken:
        found = _look_up(job, intent, adapter, ledger, now, taken.refusal.cause)
        if found is None:
            ledger.not_sent(stage, taken.refusal.cause, now)
            raise taken.refusal from None
        return found
    except PipelineError as refused:
        ledger.not_sent(stage, f"{type(refused).__name__}: {refused.cause}", now)
        raise
    ledger.accepted(stage, created.task_id, now)
    return TaskRef(created.task_id, stage)


def _look_up(
    job: Job, intent: Submission, adapter: ProviderAdapter, ledger: Ledger, now: datetime, why: str
) -> TaskRef | None:
    """The task the intent created, recorded; None when the provider has none (then sending again is safe)."""
    if not adapter.finds_tasks_by_external_id:
        raise _give_up(job, intent, ledger, now, why)
    not_before = datetime.fromisoformat(intent.intent_at)
    found = adapter.find(job, stage=intent.stage, external_id=intent.external_id, not_before=not_before)
    if found is not None:
        ledger.accepted(intent.stage, found.task_id, now)
        return TaskRef(found.task_id, intent.stage)
    return None


def _give_up(job: Job, intent: Submission, ledger: Ledger, now: datetime, why: str) -> JobTimedOut:
    possible = {
        "provider": job.provider,
        "stage": intent.stage,
        "submitted_at": intent.intent_at,
        "inputs": intent.inputs,
        "reason": why,
    }
    ledger.unknown(intent.stage, why, now, possible)
    inputs = ", ".join(f"{name} {uri}" for name, uri in intent.inputs.items())
    return JobTimedOut(
        f"{job.provider} may have created a task for job {job.job_id} attempt {job.attempt} ({intent.stage} stage), "
        f"sent at {intent.intent_at}: {why}. It was not sent again, so nothing is paid twice, and {job.provider} "
        f"cannot look a task up by our id: find it in the provider's console (created around {intent.intent_at}, "
        f"{inputs}); re-running the job pays for a new one"
    )


def external_task_id(deployment_id: str, job_id: str, attempt: int, stage: str) -> str:
    """Unique to this deployment, job, attempt and stage; another deployment sharing the account never makes it."""
    digest = hashlib.sha256(f"{deployment_id}|{job_id}|{attempt}|{stage}".encode()).hexdigest()
    return f"{EXTERNAL_ID_PREFIX}{digest[:40]}"


def audio_seconds(media: ValidatedMedia) -> float:
    if media.audio is None:
        return 10.0
    if media.audio.duration_seconds is not None:
        return media.audio.duration_seconds
    return media.audio.size_bytes / ASSUMED_AUDIO_BYTES_PER_SECOND
