"""WaveSpeedAI v3: ``POST /api/v3/{model}``, ``GET /api/v3/predictions/{id}/result``, Bearer key.

Envelope: ``{code, message, data: {id, status: created|processing|completed|failed, outputs[], error}}``.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..capabilities import ProviderCapabilities
from ..credentials import provider_credentials
from ..errors import (
    ProviderRejected,
    ProviderTaskFailed,
    ProviderThrottled,
    ProviderUnavailable,
    ResultUnavailable,
)
from ..models import Job
from .base import PresignedInputs, ProviderAdapter, ResultLocation, TaskCheck, TaskRef
from .http import check_create_answer, json_body, transport_errors

RUNNING_STATUSES = frozenset({"created", "processing"})
MODELS = {
    "wavespeed/omnihuman": "bytedance/avatar-omni-human",
    "wavespeed/omnihuman-1.5": "bytedance/avatar-omni-human-1.5",
    "wavespeed/hunyuan-avatar": "wavespeed-ai/hunyuan-avatar",
}
# The OmniHuman models document ``enable_base64_output`` (we always want a URL); Hunyuan does not have it.
OMNIHUMAN_MODELS = frozenset({"bytedance/avatar-omni-human", "bytedance/avatar-omni-human-1.5"})


class Prediction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    status: str
    outputs: list[str] = Field(default_factory=list)
    error: str | None = None


class WaveSpeedAdapter(ProviderAdapter):
    name = "wavespeed"

    def __init__(self, capabilities: ProviderCapabilities, base_url: str, client: httpx.Client) -> None:
        self.capabilities = capabilities
        self.model = MODELS[capabilities.provider_id]
        self.base_url = base_url.rstrip("/")
        self.client = client

    def submit(self, job: Job, inputs: PresignedInputs, *, stage: str | None = None, external_id: str = "") -> TaskRef:
        body: dict[str, Any] = {
            "image": inputs.image_url,
            "audio": inputs.audio_url,
            "enable_base64_output": False,
        }
        body.update(job.request.options)
        prediction = self._call("POST", f"/api/v3/{self.model}", "submit", json=body)
        return TaskRef(prediction.id)

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
        return self._call("GET", f"/api/v3/predictions/{task_id}/result", "result query", task_id=task_id)

    def _call(self, method: str, path: str, what: str, *, task_id: str | None = None, **kwargs: Any) -> Prediction:
        api_key = provider_credentials("wavespeed").get("api_key")
        if not api_key:
            raise ProviderRejected("the provider secret has no wavespeed.api_key")
        with transport_errors("wavespeed", what, creates_task=method == "POST"):
            response = self.client.request(
                method, self.base_url + path, headers={"Authorization": f"Bearer {api_key}"}, **kwargs
            )
        envelope = json_body(response)
        if method == "POST" and not response.is_success:
            check_create_answer("wavespeed", what, response, readable=envelope is not None)
        message = str((envelope or {}).get("message") or response.reason_phrase or "no message")
        code = envelope.get("code") if envelope else None
        status = code if isinstance(code, int) and code != 200 and response.is_success else response.status_code
        if status != 200 or envelope is None:
            _raise_for_status(status, f"wavespeed {what}", message, task_id=task_id, has_body=envelope is not None)
        try:
            return Prediction.model_validate((envelope or {}).get("data"))
        except ValidationError as error:
            raise ProviderUnavailable(f"wavespeed {what} returned an unreadable prediction: {error}") from error


def _raise_for_status(status: int, what: str, message: str, *, task_id: str | None, has_body: bool) -> None:
    detail = f"{what} answered HTTP {status}: {message}"
    if status == 429:
        raise ProviderThrottled(detail)
    if status >= 500 or status in (408, 409):
        raise ProviderUnavailable(detail)
    if status == 404 and task_id is not None:
        raise ProviderTaskFailed(f"{detail} (task {task_id} is unknown to the provider)")
    if status in (401, 403):
        raise ProviderRejected(f"{detail} (check the wavespeed api_key in the provider secret)")
    if 400 <= status < 500:
        raise ProviderRejected(detail)
    if not has_body:
        raise ProviderUnavailable(f"{what} returned an unreadable body (HTTP {status})")
    raise ProviderUnavailable(detail)
