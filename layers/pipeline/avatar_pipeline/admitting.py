"""AdmitJob's decisions: check the budget, take a slot or say how long the job may still wait, and put a job the
provider throttled back in the queue after a backoff."""

from __future__ import annotations

import random
from datetime import datetime

from pydantic import BaseModel

from .budget import Budget
from .errors import JobCancelled, JobTimedOut
from .jobs import JobStore
from .models import Job, ValidatedMedia
from .pricing import estimated_cost_usd
from .provider_accounts import account_of, slot_key
from .slots import Slots
from .submission import audio_seconds

MAX_BACKOFF_SECONDS = 60


class AdmissionState(BaseModel):
    """``$.admission`` in the state machine: what the attempt's admissions so far decided."""

    account: str
    admitted: bool
    queued_since: str | None = None
    seconds_left: int | None = None  # how long the attempt may still wait for a slot (WaitForSlot's timeout)
    backoff_seconds: int = 0
    requeues: int = 0
    budget_day: str | None = None
    estimated_cost_usd: float | None = None


def admit(
    job: Job,
    media: ValidatedMedia,
    previous: AdmissionState | None,
    *,
    execution_arn: str,
    slots: Slots,
    budget: Budget,
    jobs: JobStore,
    prices: dict[str, float],
    queue_timeout_seconds: int,
    now: datetime,
) -> AdmissionState:
    account, key = account_of(job.provider), slot_key(job.job_id, job.attempt)
    estimate = estimated_cost_usd(job.provider, audio_seconds(media), prices)
    if previous is None:
        what = f"job {job.job_id} ({job.provider}, {audio_seconds(media):.1f} s of audio)"
        budget_day = budget.reserve(key, estimate, job.request.max_cost_usd, what, now)
        previous = AdmissionState(account=account, admitted=False, budget_day=budget_day, estimated_cost_usd=estimate)
    state = previous.model_copy(update={"backoff_seconds": 0})
    if slots.store.try_acquire(account, key, execution_arn, now, queue_first=True):
        _record_running(jobs, job, execution_arn, state, slots, now)
        return state.model_copy(update={"admitted": True, "seconds_left": None})
    queued_since = state.queued_since or now.isoformat()
    waited = (now - datetime.fromisoformat(queued_since)).total_seconds()
    seconds_left = int(queue_timeout_seconds - waited)
    if seconds_left <= 0:
        slots.free(job.provider, job.job_id, job.attempt)
        raise JobTimedOut(
            f"job {job.job_id} waited {waited:.0f} s for a {account} slot (all {slots.store.limit(account)} in use); "
            f"QueueTimeoutSeconds is {queue_timeout_seconds}"
        )
    return state.model_copy(update={"admitted": False, "queued_since": queued_since, "seconds_left": seconds_left})


def requeue(
    job: Job,
    previous: AdmissionState,
    *,
    slots: Slots,
    queue_timeout_seconds: int,
    now: datetime,
    rng: random.Random | None = None,
) -> AdmissionState:
    """The provider refused for its own concurrency or rate limit: the slot goes back, and the job waits a growing,
    jittered backoff before it asks for one again (keeping its place: the queue is ordered by first arrival)."""
    slots.free(job.provider, job.job_id, job.attempt)
    requeues = previous.requeues + 1
    backoff = max(1, round(min(MAX_BACKOFF_SECONDS, 2**requeues) * (rng or random.Random()).uniform(0.5, 1.0)))
    queued_since = previous.queued_since or now.isoformat()
    waited = (now - datetime.fromisoformat(queued_since)).total_seconds()
    if waited + backoff >= queue_timeout_seconds:
        raise JobTimedOut(
            f"{job.provider} kept refusing job {job.job_id} for its concurrency limit for {waited:.0f} s "
            f"({requeues} times); QueueTimeoutSeconds is {queue_timeout_seconds}"
        )
    return previous.model_copy(
        update={"admitted": False, "queued_since": queued_since, "requeues": requeues, "backoff_seconds": backoff}
    )


def _record_running(
    jobs: JobStore, job: Job, execution_arn: str, state: AdmissionState, slots: Slots, now: datetime
) -> None:
    waited = 0.0 if state.queued_since is None else (now - datetime.fromisoformat(state.queued_since)).total_seconds()
    running = jobs.update(
        job.job_id,
        "SET #status = :running, updated_at = :now, estimated_cost_usd = :estimate, budget_day = :day, "
        "queued_seconds = :waited REMOVE queue",
        condition="attempt = :attempt AND execution_arn = :me AND #status IN (:running, :queued)",
        names={"#status": "status"},
        values={
            ":running": "RUNNING",
            ":queued": "QUEUED",
            ":now": now.isoformat(),
            ":estimate": state.estimated_cost_usd,
            ":day": state.budget_day,
            ":waited": round(waited, 3),
            ":attempt": job.attempt,
            ":me": execution_arn,
        },
    )
    if running is None:
        slots.free(job.provider, job.job_id, job.attempt)
        raise JobCancelled(f"job {job.job_id} attempt {job.attempt} ended while it waited for a slot")
