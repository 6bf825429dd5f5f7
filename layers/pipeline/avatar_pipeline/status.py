"""CheckStatus: one look at the provider task, and the next wait if it is still running."""

from __future__ import annotations

import random
from datetime import datetime

from .models import ProviderTask
from .polling import PollPolicy
from .providers.base import ProviderAdapter


def check_task(
    task: ProviderTask,
    *,
    adapter: ProviderAdapter,
    policy: PollPolicy,
    now: datetime,
    rng: random.Random | None = None,
) -> ProviderTask:
    polls = task.polls + 1
    check = adapter.check(task.task_id)
    if check.status == "succeeded":
        return task.model_copy(
            update={"polls": polls, "status": "succeeded", "next_wait_seconds": 0, "completed_at": now}
        )
    wait = policy.next_wait(polls, now=now, deadline=task.deadline, rng=rng)
    return task.model_copy(update={"polls": polls, "status": "running", "next_wait_seconds": wait})
