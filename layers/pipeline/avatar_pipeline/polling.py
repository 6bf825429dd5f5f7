"""The wait schedule between status checks: an estimate first, then exponential with a cap and jitter,
always bounded by the job's deadline and poll budget."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from .errors import JobTimedOut


@dataclass(frozen=True)
class PollPolicy:
    min_seconds: int = 5
    max_seconds: int = 60
    backoff_rate: float = 2.0
    jitter_ratio: float = 0.2
    max_polls: int = 200
    deadline_seconds: int = 10800

    def __post_init__(self) -> None:
        if self.min_seconds < 0 or self.max_seconds < max(self.min_seconds, 1):
            raise ValueError("poll bounds need 0 <= min_seconds and 1 <= max_seconds >= min_seconds")
        if self.max_polls < 1 or self.deadline_seconds < 1:
            raise ValueError("max_polls and deadline_seconds must be positive")

    def _clamp(self, seconds: float) -> int:
        return int(min(self.max_seconds, max(self.min_seconds, round(seconds))))

    def first_wait(self, estimated_generation_seconds: float, *, now: datetime, deadline: datetime) -> int:
        """The first check comes when the provider is expected to be done."""
        return self._bounded(self._clamp(estimated_generation_seconds), now=now, deadline=deadline)

    def next_wait(self, polls_done: int, *, now: datetime, deadline: datetime, rng: random.Random | None = None) -> int:
        """After ``polls_done`` checks found the task still running: min·rateⁿ⁻¹, capped, with ±jitter."""
        if polls_done >= self.max_polls:
            raise JobTimedOut(f"the provider was still generating after {polls_done} status checks")
        try:
            grown = self.min_seconds * self.backoff_rate ** max(0, polls_done - 1)
        except OverflowError:  # a large poll budget: 2.0 ** 1024 does not fit a float
            grown = math.inf if self.min_seconds else 0.0
        base = min(float(self.max_seconds), grown)
        jitter = base * self.jitter_ratio * (rng or random.Random()).uniform(-1.0, 1.0)
        return self._bounded(self._clamp(max(base + jitter, 1.0)), now=now, deadline=deadline)

    def _bounded(self, wait: int, *, now: datetime, deadline: datetime) -> int:
        remaining = (deadline - now).total_seconds()
        if remaining <= 0:
            raise JobTimedOut(f"the job deadline {deadline.isoformat()} passed before the provider finished")
        return max(1, min(wait, math.ceil(remaining)))
