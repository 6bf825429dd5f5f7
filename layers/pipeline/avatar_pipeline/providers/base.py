"""The one small interface every provider adapter implements."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..capabilities import ProviderCapabilities
from ..models import Job

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
    status: Literal["running", "succeeded"]
    provider_status: str
    # Set when a preparatory task finished and the adapter started the next one (e.g. subject check → video).
    next_task: TaskRef | None = None


@dataclass(frozen=True)
class ResultLocation:
    url: str
    aigc_meta_tagged: bool | None = None


class ProviderAdapter(abc.ABC):
    capabilities: ProviderCapabilities

    @abc.abstractmethod
    def submit(self, job: Job, inputs: PresignedInputs) -> TaskRef:
        """Start the job at the provider and return the task to follow."""

    @abc.abstractmethod
    def check(self, job: Job, task: TaskRef, inputs: InputsFactory) -> TaskCheck:
        """Report progress; raises ``ProviderTaskFailed`` when the provider says generation failed."""

    @abc.abstractmethod
    def result(self, job: Job, task: TaskRef) -> ResultLocation:
        """A fresh, downloadable URL of the finished video; raises ``ResultUnavailable`` if none can be had."""
