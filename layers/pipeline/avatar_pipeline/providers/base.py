"""The one small interface every provider adapter implements."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..capabilities import ProviderCapabilities
from ..errors import PipelineError, ProviderTaskFailed
from ..models import Job, TaskStatus

GENERATE = "generate"


@dataclass(frozen=True)
class PresignedInputs:
    """Short-lived URLs the provider downloads the inputs from; created inside the step that uses them.

    ``presign`` turns any other ``s3://`` input of the job (for example a mask image) into such a URL.
    """

    image_url: str
    audio_url: str | None
    presign: Callable[[str], str]


InputsFactory = Callable[[], PresignedInputs]


@dataclass(frozen=True)
class TaskRef:
    """A provider task, and which stage of the provider's flow it is (most providers have one)."""

    task_id: str
    stage: str = GENERATE


@dataclass(frozen=True)
class TaskCheck:
    status: TaskStatus
    provider_status: str
    # Set when a preparatory stage finished and the next one must be submitted (e.g. subject check → video).
    next_stage: str | None = None
    # What the provider says the finished task was charged, in its own units (Kling: final_unit_deduction).
    reported_units: float | None = None
    # When the provider says the task finished, where its API reports it (WaveSpeed, Kling); None otherwise.
    completed_at: datetime | None = None


@dataclass(frozen=True)
class CallbackDelivery:
    """A callback as the webhook endpoint received it, and the external id this attempt's task was created with."""

    headers: Mapping[str, str]
    """Lower-cased names."""
    body: bytes
    external_id: str


@dataclass(frozen=True)
class CallbackReport:
    task_id: str
    status: TaskStatus | Literal["failed"]
    cause: str = ""
    reported_units: float | None = None
    completed_at: datetime | None = None  # the provider's own completion time, where it reports one

    @classmethod
    def of(cls, task_id: str, check: Callable[[], TaskCheck]) -> CallbackReport:
        """The report of ``check``, a failed task's ``ProviderTaskFailed`` included."""
        try:
            found = check()
        except ProviderTaskFailed as failed:
            return cls(task_id, "failed", failed.cause)
        return cls(task_id, found.status, reported_units=found.reported_units, completed_at=found.completed_at)


@dataclass(frozen=True)
class ResultLocation:
    url: str
    aigc_meta_tagged: bool | None = None


class ExternalIdTaken(Exception):
    """The provider refused to create a task because one with this external id exists (it may be ours)."""

    def __init__(self, refusal: PipelineError) -> None:
        super().__init__(refusal.cause)
        self.refusal = refusal


class ProviderAdapter(abc.ABC):
    capabilities: ProviderCapabilities
    # True when a task can be found again by the external id it was created with (then an unanswered create is
    # looked up, and, if absent, sent again: the provider refuses a second task under the same external id).
    finds_tasks_by_external_id: bool = False
    # True when the provider can call back when the task ends (a ``callback_url`` is then given to ``submit``).
    calls_back: bool = False

    def first_stage(self, job: Job) -> str:
        return GENERATE

    @abc.abstractmethod
    def submit(
        self,
        job: Job,
        inputs: PresignedInputs,
        *,
        stage: str | None = None,
        external_id: str = "",
        callback_url: str | None = None,
    ) -> TaskRef:
        """Create the task of ``stage`` (default: the job's first stage) and return it; a provider that
        ``calls_back`` is told to call ``callback_url`` when the task ends.

        Raises ``SubmitOutcomeUnknown`` when the provider may have created it without saying so, and
        ``ExternalIdTaken`` when it refused because a task with ``external_id`` exists; any contract error means
        no task was created.
        """

    def find(self, job: Job, *, stage: str, external_id: str, not_before: datetime) -> TaskRef | None:
        """The task created with ``external_id``, if the provider has one that is provably this attempt's."""
        raise NotImplementedError(f"{type(self).__name__} cannot find tasks by external id")

    def read_callback(self, delivery: CallbackDelivery, *, now: datetime) -> CallbackReport:
        """What a verified callback says about which task; raises ``ForgedCallback`` when it cannot be verified."""
        raise NotImplementedError(f"{type(self).__name__} does not call back")

    @abc.abstractmethod
    def check(self, job: Job, task: TaskRef) -> TaskCheck:
        """Report progress; raises ``ProviderTaskFailed`` when the provider says generation failed."""

    @abc.abstractmethod
    def result(self, job: Job, task: TaskRef) -> ResultLocation:
        """A fresh, downloadable URL of the finished video; raises ``ResultUnavailable`` if none can be had."""
