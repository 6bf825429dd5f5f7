"""CheckStatus: one look at the provider task, and the next wait if it is still running."""

from __future__ import annotations

import random
from datetime import datetime

from .models import Job, ProviderTask
from .polling import PollPolicy
from .providers.base import InputsFactory, ProviderAdapter, TaskRef


def check_task(
    job: Job,
    task: ProviderTask,
    *,
    adapter: ProviderAdapter,
    inputs: InputsFactory,
    policy: PollPolicy,
    now: datetime,
    rng: random.Random | None = None,
) -> ProviderTask:
    polls = task.polls + 1
    check = adapter.check(job, TaskRef(task.task_id, task.stage), inputs)
    if check.status == "succeeded":
        return task.model_copy(
            update={"polls": polls, "status": "succeeded", "next_wait_seconds": 0, "completed_at": now}
        )
    update: dict[str, object] = {"polls": polls, "status": "running"}
    if check.next_task is not None:
        update |= {"task_id": check.next_task.task_id, "stage": check.next_task.stage}
    update["next_wait_seconds"] = policy.next_wait(polls, now=now, deadline=task.deadline, rng=rng)
    return task.model_copy(update=update)
