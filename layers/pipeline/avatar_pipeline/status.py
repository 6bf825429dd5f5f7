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
                "completed_at": now,
                "reported_units": check.reported_units,
            }
        )
    update: dict[str, object] = {"polls": polls, "status": "running"}
    if check.next_stage is not None:
        following = submit_stage(check.next_stage)
        update |= {"task_id": following.task_id, "stage": following.stage}
    update["next_wait_seconds"] = policy.next_wait(polls, now=now, deadline=task.deadline, rng=rng)
    return task.model_copy(update=update)
