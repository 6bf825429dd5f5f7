"""The status checks' settings (template parameters PollMinSeconds, PollMaxSeconds, PollFirstWaitMaxSeconds,
MaxPolls, JobDeadlineSeconds), for the two functions that schedule checks: SubmitJob and CheckStatus."""

from __future__ import annotations

from pydantic import Field

from .polling import PollPolicy
from .settings import EnvSettings, JobDeadlineSeconds


class PollSettings(EnvSettings):
    poll_min_seconds: int = Field(5, alias="POLL_MIN_SECONDS")
    poll_max_seconds: int = Field(120, alias="POLL_MAX_SECONDS")
    poll_first_wait_max_seconds: int = Field(0, alias="POLL_FIRST_WAIT_MAX_SECONDS")
    max_polls: int = Field(200, alias="MAX_POLLS")
    job_deadline_seconds: JobDeadlineSeconds = 10800

    def policy(self) -> PollPolicy:
        return PollPolicy(
            min_seconds=self.poll_min_seconds,
            max_seconds=self.poll_max_seconds,
            first_wait_max_seconds=self.poll_first_wait_max_seconds,
            max_polls=self.max_polls,
            deadline_seconds=self.job_deadline_seconds,
        )
