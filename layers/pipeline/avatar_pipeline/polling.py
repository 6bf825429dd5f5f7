"""The wait schedule between status checks, as one pure function of the estimate, the time since submission and the
checks done (``PollPolicy.wait``): the first check a little before the estimated end, then waits proportional to the
time already spent, between a floor and a cap, with jitter; always bounded by the job's deadline and poll budget.

Waits proportional to the elapsed time keep the detection lag a near-constant share of the generation time, whatever
its length, at a cost in checks that grows with the logarithm of how far the estimate was off, not linearly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from .errors import JobTimedOut


@dataclass(frozen=True)
class PollPolicy:
    min_seconds: int = 5
    max_seconds: int = 120
    first_wait_max_seconds: int = 0  # 0: the first check waits for the estimate, however long
    # An estimate is an average: checking a little early costs one cheap check when it is right or high, where
    # checking late makes every job that finishes early wait for nothing.
    first_check_ratio: float = 0.85
    # A provider that calls back is expected to say when it is done: the first check is the fallback for a lost
    # callback, so it comes just after the estimated end rather than before it (no check when the callback comes).
    callback_check_ratio: float = 1.05
    elapsed_ratio: float = 0.07
    jitter_ratio: float = 0.1
    max_polls: int = 200
    deadline_seconds: int = 10800

    def __post_init__(self) -> None:
        if self.min_seconds < 0 or self.max_seconds < max(self.min_seconds, 1):
            raise ValueError("poll bounds need 0 <= min_seconds and 1 <= max_seconds >= min_seconds")
        if self.first_wait_max_seconds and self.first_wait_max_seconds < max(self.min_seconds, 1):
            raise ValueError("poll bounds need first_wait_max_seconds 0 (no cap) or >= min_seconds")
        if self.max_polls < 1 or self.deadline_seconds < 1:
            raise ValueError("max_polls and deadline_seconds must be positive")

    def first_wait(
        self,
        estimated_generation_seconds: float,
        *,
        now: datetime,
        deadline: datetime,
        rng: random.Random | None = None,
        callbacks: bool = False,
    ) -> int:
        """Until the first check, from submission (or from a stage that starts the generation); ``callbacks``: the
        provider was told to call back, so the check is only the fallback."""
        return self._until_deadline(
            0, 0.0, estimated_generation_seconds, now=now, deadline=deadline, rng=rng, callbacks=callbacks
        )

    def next_wait(
        self,
        polls_done: int,
        *,
        now: datetime,
        deadline: datetime,
        submitted_at: datetime,
        rng: random.Random | None = None,
    ) -> int:
        """After ``polls_done`` checks found the task still running."""
        elapsed = (now - submitted_at).total_seconds()
        return self._until_deadline(polls_done, elapsed, 0.0, now=now, deadline=deadline, rng=rng)

    def wait(
        self,
        *,
        polls_done: int,
        elapsed_seconds: float,
        estimate_seconds: float,
        remaining_seconds: float,
        rng: random.Random,
        callbacks: bool = False,
    ) -> int:
        """The schedule: seconds until the next check, ``remaining_seconds`` before the deadline.

        Raises ``JobTimedOut`` when the poll budget is spent or the deadline has passed.
        """
        if polls_done >= self.max_polls:
            raise JobTimedOut(f"the provider was still generating after {polls_done} status checks")
        if remaining_seconds <= 0:
            raise JobTimedOut(
                f"the job deadline, {self.deadline_seconds} s after submission, passed before the provider finished"
            )
        spread = 1.0 + self.jitter_ratio * rng.uniform(-1.0, 1.0)
        if polls_done == 0:
            cap = self.first_wait_max_seconds or math.inf
            if callbacks:
                wanted = self.callback_check_ratio * estimate_seconds - elapsed_seconds
            else:
                wanted = self.first_check_ratio * estimate_seconds * spread - elapsed_seconds
        else:
            cap = float(self.max_seconds)
            wanted = min(cap, max(float(self.min_seconds), self.elapsed_ratio * max(0.0, elapsed_seconds))) * spread
        wait = min(cap, max(float(self.min_seconds), 1.0, wanted))
        return max(1, min(round(wait), math.ceil(remaining_seconds)))

    def _until_deadline(
        self,
        polls_done: int,
        elapsed: float,
        estimate: float,
        *,
        now: datetime,
        deadline: datetime,
        rng: random.Random | None,
        callbacks: bool = False,
    ) -> int:
        remaining = (deadline - now).total_seconds()
        return self.wait(
            polls_done=polls_done,
            elapsed_seconds=elapsed,
            estimate_seconds=estimate,
            remaining_seconds=remaining,
            rng=rng or random.Random(),
            callbacks=callbacks,
        )
