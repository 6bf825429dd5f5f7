"""WaveSpeedAI v3: ``POST /api/v3/{model}``, ``GET /api/v3/predictions/{id}/result``, Bearer key.

Envelope: ``{code, message, data: {id, status: created|processing|completed|failed, outputs[], error}}``; ``code``
is an HTTP status (an error may come as HTTP 200 with the error's status as ``code``), so errors go by status alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from ..capabilities import ProviderCapabilities
from ..credentials import provider_credentials
from ..errors import ProviderRejected, ProviderTaskFailed, ProviderUnavailable, ResultUnavailable
from ..models import Job
from ..redaction import register
from .api import Accepted, Answer, ProviderApi, Refusal, validated
from .auth import BearerKey
from .base import CallbackDelivery, CallbackReport, PresignedInputs, ProviderAdapter, ResultLocation, TaskCheck, TaskRef
from .callback_signatures import ForgedCallback, verify_wavespeed
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
    created_at: str | None = None  # ISO 8601, e.g. 2023-04-01T12:34:56.789Z
    timings: dict[str, Any] | None = None  # {"inference": milliseconds}

    def completed_at(self) -> datetime | None:
        """When the provider finished, by its own clock: ``created_at`` plus ``timings.inference`` (its only
        completion stamp); None when either is missing or unreadable."""
        inference = (self.timings or {}).get("inference")
        if not self.created_at or not isinstance(inference, int | float) or isinstance(inference, bool):
            return None
        try:
            created = datetime.fromisoformat(self.created_at.replace("Z", "+00:00"))
        except ValueError:
            return None
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return created + timedelta(milliseconds=inference)


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


class WebhookSecret:
    """The account's webhook signing secret: ``wavespeed.webhook_secret`` in the provider secret when set, else
    ``GET /api/v3/webhook/secret``, read once per container (and again when a signature does not match)."""

    _cache: ClassVar[dict[str, str]] = {}

    def __init__(self, api: ProviderApi, secret_arn: str) -> None:
        self.api, self.secret_arn = api, secret_arn

    def webhook_secret(self, *, fresh: bool = False) -> str:
        configured = provider_credentials(self.secret_arn, NAME).get("webhook_secret")
        if configured:
            return configured
        if fresh or self.api.base_url not in self._cache:
            data = self.api.call("GET", "/api/v3/webhook/secret", "webhook secret query")
            secret = data.get("secret") if isinstance(data, dict) else data
            if not isinstance(secret, str) or not secret:
                raise ProviderUnavailable("wavespeed webhook secret query returned no secret")
            register(secret)
            self._cache[self.api.base_url] = secret
        return self._cache[self.api.base_url]


class WaveSpeedAdapter(ProviderAdapter):
    calls_back = True

    def __init__(
        self, capabilities: ProviderCapabilities, base_url: str, client: httpx.Client, secret_arn: str
    ) -> None:
        self.capabilities = capabilities
        self.model = MODELS[capabilities.provider_id]
        self.api = ProviderApi(WaveSpeedDialect(), base_url, client, BearerKey(lambda: _api_key(secret_arn)))
        self.secrets = WebhookSecret(self.api, secret_arn)

    def submit(
        self,
        job: Job,
        inputs: PresignedInputs,
        *,
        stage: str | None = None,
        external_id: str = "",
        callback_url: str | None = None,
    ) -> TaskRef:
        body: dict[str, Any] = {"image": inputs.image_url, "audio": inputs.audio_url, "enable_base64_output": False}
        body.update(job.options.model_dump(mode="json", exclude_unset=True))
        params = {"webhook": callback_url} if callback_url else None
        data = self.api.call("POST", f"/api/v3/{self.model}", "submit", creates_task=True, json=body, params=params)
        return TaskRef(_prediction(data, "submit").id)

    def read_callback(self, delivery: CallbackDelivery, *, now: datetime) -> CallbackReport:
        """A callback signed with the account's webhook secret carries the prediction itself."""
        try:
            verify_wavespeed(delivery.headers, delivery.body, self.secrets.webhook_secret(), now)
        except ForgedCallback:
            # The secret may have been regenerated since it was read: read it once more before refusing.
            verify_wavespeed(delivery.headers, delivery.body, self.secrets.webhook_secret(fresh=True), now)
        try:
            raw = json.loads(delivery.body)
        except ValueError:
            raise ForgedCallback("the signed callback body is not JSON") from None
        prediction = _prediction(raw.get("data", raw) if isinstance(raw, dict) else raw, "callback")
        return CallbackReport.of(prediction.id, lambda: _task_check(prediction))

    def check(self, job: Job, task: TaskRef) -> TaskCheck:
        return _task_check(self._prediction(task.task_id))

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


def _task_check(prediction: Prediction) -> TaskCheck:
    task_id = prediction.id
    if prediction.status in RUNNING_STATUSES:
        return TaskCheck(status="running", provider_status=prediction.status)
    if prediction.status == "completed":
        if not prediction.outputs:
            raise ProviderTaskFailed(f"wavespeed task {task_id} completed without an output video")
        return TaskCheck(status="succeeded", provider_status=prediction.status, completed_at=prediction.completed_at())
    if prediction.status == "failed":
        reason = prediction.error or "no reason given"
        raise ProviderTaskFailed(f"wavespeed task {task_id} failed: {reason}")
    raise ProviderTaskFailed(f"wavespeed task {task_id} reported an unknown status {prediction.status!r}")


def _prediction(data: Any, what: str) -> Prediction:
    return validated(Prediction, data, f"wavespeed {what} returned an unreadable prediction")
