"""The one small interface every provider adapter implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..capabilities import ProviderCapabilities
from ..models import Job


@dataclass(frozen=True)
class PresignedInputs:
    """Short-lived URLs the provider downloads the inputs from; created inside the step that uses them."""

    image_url: str
    audio_url: str | None


@dataclass(frozen=True)
class TaskCheck:
    status: Literal["running", "succeeded"]
    provider_status: str


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderAdapter(abc.ABC):
    capabilities: ProviderCapabilities

    @abc.abstractmethod
    def submit(self, job: Job, inputs: PresignedInputs) -> str:
        """Create the paid task and return the provider's task id."""

    @abc.abstractmethod
    def check(self, task_id: str) -> TaskCheck:
        """Report progress; raises ``ProviderTaskFailed`` when the provider says generation failed."""

    @abc.abstractmethod
    def result_url(self, task_id: str) -> str:
        """A fresh, downloadable URL of the finished video; raises ``ResultUnavailable`` if none can be had."""
