"""CheckStatus: one look at the provider task, and the next wait if it is still running.

When a preparatory stage finished (Volcengine's subject check), the next stage's paid task is created here,
through the same ledger as Submit: a retry after a crash finds the task recorded instead of paying again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from .models import Job, ProviderTask
from .polling import PollPolicy
from .providers.base import ProviderAdapter, TaskRef

SubmitStage = Callable[[str], TaskRef]
"""Creates (at most once) the task of the given stage for the job's current attempt."""


def check_task(
    job: Job,
    task: ProviderTask,
    *,
    adapter: ProviderAdapter,
    submit_stage: SubmitStage,
    policy: PollPolicy,
    now: datetime,
    rng: random.Random | None = None,
) -> ProviderTask:
    polls = task.polls + 1
    check = adapter.check(job, TaskRef(task.task_id, task.stage))
    if check.status == "succeeded":
        return task.model_copy(
            update={
                "polls": polls,
                "status": "succeeded",
                "next_wait_seconds": 0,
                "detected_at": now,
                "provider_completed_at": check.completed_at,
                "observed_generation_seconds": observed_seconds(task, now),
                "reported_units": check.reported_units,
            }
        )
    update: dict[str, object] = {"polls": polls, "status": "running"}
    if check.next_stage is not None:
        following = submit_stage(check.next_stage)
        update |= {"task_id": following.task_id, "stage": following.stage}
        # The generation starts now: its first check comes when it is expected to be done.
        wait = policy.first_wait(task.estimated_generation_seconds, now=now, deadline=task.deadline, rng=rng)
    else:
        wait = policy.next_wait(polls, now=now, deadline=task.deadline, submitted_at=task.submitted_at, rng=rng)
    update["next_wait_seconds"] = wait
    return task.model_copy(update=update)


def observed_seconds(task: ProviderTask, now: datetime) -> float:
    """How long the task took, from the check that found it done (``now``) and the one before. It ended between
    the two: the middle of that span. The first check bounds it from above only; that bound is kept, so an estimate
    too high (every job done at its first check) still comes down."""
    elapsed = (now - task.submitted_at).total_seconds()
    return round(elapsed if task.polls == 0 else max(0.0, elapsed - task.next_wait_seconds / 2), 1)
