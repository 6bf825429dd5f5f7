"""WaveSpeedAI v3: ``POST /api/v3/{model}``, ``GET /api/v3/predictions/{id}/result``, Bearer key.

Envelope: ``{code, message, data: {id, status: created|processing|completed|failed, outputs[], error}}``; ``code``
is an HTTP status (an error may come as HTTP 200 with the error's status as ``code``), so errors go by status alone.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from ..capabilities import ProviderCapabilities
from ..credentials import provider_credentials
from ..errors import ProviderRejected, ProviderTaskFailed, ProviderUnavailable, ResultUnavailable
from ..models import Job
from .api import Accepted, Answer, ProviderApi, Refusal, validated
from .auth import BearerKey
from .base import PresignedInputs, ProviderAdapter, ResultLocation, TaskCheck, TaskRef
from .classify import AUTH_STATUSES, TaskMissing, classify

NAME = "wavespeed"
RUNNING_STATUSES = frozenset({"created", "processing"})
MODELS = {
    "wavespeed/omnihuman": "bytedance/avatar-omni-human",
    "wavespeed/omnihuman-1.5": "bytedance/avatar-omni-human-1.5",
    "wavespeed/hunyuan-avatar": "wavespeed-ai/hunyuan-avatar",
}


class Prediction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    status: str
    outputs: list[str] = Field(default_factory=list)
    error: str | None = None


class WaveSpeedDialect:
    name = NAME
    credentials_hint = "check the wavespeed api_key in the provider secret"

    def read(self, answer: Answer, what: str) -> Accepted | Refusal:
        body, status = answer.body, _status(answer)
        if status == 200 and body is not None:
            return Accepted(body.get("data"))
        if body is None and status < 400:
            return Refusal(ProviderUnavailable, f"wavespeed {what} returned an unreadable body (HTTP {status})")
        message = answer.field("message") or answer.reason or "no message"
        error, _ = classify(status)
        return Refusal(
            error, f"wavespeed {what} answered HTTP {status}: {message}", credentials=status in AUTH_STATUSES
        )


def _status(answer: Answer) -> int:
    """The envelope's ``code`` is an HTTP status; inside an HTTP 2xx answer it is the status that counts."""
    code = answer.body.get("code") if answer.body else None
    return code if isinstance(code, int) and answer.is_success else answer.status


def _api_key(secret_arn: str) -> str:
    api_key = provider_credentials(secret_arn, NAME).get("api_key")
    if not api_key:
        raise ProviderRejected("the provider secret has no wavespeed.api_key")
    return api_key


class WaveSpeedAdapter(ProviderAdapter):
    def __init__(
        self, capabilities: ProviderCapabilities, base_url: str, client: httpx.Client, secret_arn: str
    ) -> None:
        self.capabilities = capabilities
        self.model = MODELS[capabilities.provider_id]
        self.api = ProviderApi(WaveSpeedDialect(), base_url, client, BearerKey(lambda: _api_key(secret_arn)))

    def submit(self, job: Job, inputs: PresignedInputs, *, stage: str | None = None, external_id: str = "") -> TaskRef:
        body: dict[str, Any] = {"image": inputs.image_url, "audio": inputs.audio_url, "enable_base64_output": False}
        body.update(job.options.model_dump(mode="json", exclude_unset=True))
        return TaskRef(
            _prediction(
                self.api.call("POST", f"/api/v3/{self.model}", "submit", creates_task=True, json=body), "submit"
            ).id
        )

    def check(self, job: Job, task: TaskRef) -> TaskCheck:
        task_id = task.task_id
        prediction = self._prediction(task_id)
        if prediction.status in RUNNING_STATUSES:
            return TaskCheck(status="running", provider_status=prediction.status)
        if prediction.status == "completed":
            if not prediction.outputs:
                raise ProviderTaskFailed(f"wavespeed task {task_id} completed without an output video")
            return TaskCheck(status="succeeded", provider_status=prediction.status)
        if prediction.status == "failed":
            reason = prediction.error or "no reason given"
            raise ProviderTaskFailed(f"wavespeed task {task_id} failed: {reason}")
        raise ProviderTaskFailed(f"wavespeed task {task_id} reported an unknown status {prediction.status!r}")

    def result(self, job: Job, task: TaskRef) -> ResultLocation:
        task_id = task.task_id
        try:
            prediction = self._prediction(task_id)
        except ProviderTaskFailed as error:
            raise ResultUnavailable(error.cause) from error
        if prediction.status != "completed" or not prediction.outputs:
            raise ResultUnavailable(f"wavespeed task {task_id} has no output (status {prediction.status})")
        return ResultLocation(prediction.outputs[0])

    def _prediction(self, task_id: str) -> Prediction:
        what = "result query"
        try:
            data = self.api.call("GET", f"/api/v3/predictions/{task_id}/result", what, about_task=True)
        except TaskMissing as missing:
            raise ProviderTaskFailed(f"{missing.detail} (task {task_id} is unknown to the provider)") from None
        return _prediction(data, what)


def _prediction(data: Any, what: str) -> Prediction:
    return validated(Prediction, data, f"wavespeed {what} returned an unreadable prediction")
