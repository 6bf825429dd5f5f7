"""Kling AI Avatar: ``POST /v1/videos/avatar/image2video``, ``GET /v1/videos/avatar/image2video/{id}``.

Auth: see ``kling_auth``. Envelope: ``{code, message, request_id, data}``, ``code == 0`` on success;
``data.task_status`` is one of ``submitted``, ``processing``, ``succeed``, ``failed``; a finished task has
``data.task_result.videos[].url``.

Every task is created with an ``external_task_id`` unique to this deployment, job, attempt and stage (Kling keeps
it unique per account), so an unanswered create can be looked up, and sending it again cannot make a second task.
A task found by that id is adopted only if Kling reports exactly that id and it was created after the attempt's
first submission began.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

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
from ..options import KlingAvatarOptions, options_as
from .api import Accepted, Answer, ProviderApi, Refusal, clip, validated
from .base import CallbackDelivery, CallbackReport, PresignedInputs, ProviderAdapter, ResultLocation, TaskCheck, TaskRef
from .callback_signatures import ForgedCallback, verify_standard
from .classify import CodeTable, Meaning, TaskMissing, by_status, classify
from .kling_auth import AUTH_CODES, PROCESS_TOKENS, Clock, JwtCache, KlingAuth, envelope_code
from .kling_tasks import KlingTask, callback_task_id

NAME = "kling"
TASKS_PATH = "/v1/videos/avatar/image2video"
RUNNING_STATUSES = frozenset({"submitted", "processing"})
# How far Kling's clock may be behind ours when it stamps a task's creation time.
CLOCK_SKEW = timedelta(minutes=5)
DUPLICATE_CODE = 1201  # also Kling's answer to a reused external_task_id

# Kling's documented business codes.
CODES: CodeTable = {
    **{code: (ProviderRejected, meaning) for code, meaning in AUTH_CODES.items()},
    1302: (ProviderThrottled, "request rate limit exceeded"),
    1303: (ProviderThrottled, "concurrency or QPS over the resource pack limit"),
    5000: (ProviderUnavailable, "server internal error"),
    5001: (ProviderUnavailable, "service temporarily unavailable"),
    5002: (ProviderUnavailable, "server internal timeout"),
    1100: (ProviderRejected, "account exception"),
    1101: (ProviderRejected, "account in arrears"),
    1102: (ProviderRejected, "resource pack exhausted or expired"),
    1103: (ProviderRejected, "no access to the requested resource"),
    1200: (ProviderRejected, "invalid request parameters"),
    DUPLICATE_CODE: (ProviderRejected, "invalid parameter value"),
    1300: (ProviderRejected, "platform policy triggered"),
    1301: (ProviderRejected, "content safety policy triggered"),
    1304: (ProviderRejected, "IP whitelist policy triggered"),
    1202: (TaskMissing, "requested method is invalid"),
    1203: (TaskMissing, "requested resource does not exist"),
}


class KlingDialect:
    name = NAME
    credentials_hint = "check the kling credentials in the provider secret"

    def read(self, answer: Answer, what: str) -> Accepted | Refusal:
        body, code, status = answer.body, envelope_code(answer.body), answer.status
        if body is not None and code == 0 and answer.is_success:
            return Accepted(body.get("data"))
        if body is None and status < 400:
            return Refusal(ProviderUnavailable, f"kling {what} returned an unreadable body (HTTP {status})")
        error, meaning = classify(status, code, CODES, _undocumented)
        said = f", code {code} ({meaning})" if code is not None else ""
        credentials = code in AUTH_CODES if code is not None else status == 401
        return Refusal(error, f"kling {what} answered HTTP {status}{said}: {_said(answer)}", code, credentials)


def _said(answer: Answer) -> str:
    message = clip(answer.field("message") or answer.reason or "no message")
    request_id = clip(answer.field("request_id"))
    return f"{message} [{f'request_id {request_id}' if request_id else 'no request_id'}]"


def _undocumented(code: int | str, status: int) -> Meaning:
    """A code Kling does not document: retried only if the HTTP status says it may be; otherwise a refusal."""
    error, _ = by_status(status)
    retried = status >= 400 and error in (ProviderThrottled, ProviderUnavailable)
    return (error if retried else ProviderRejected), "undocumented code"


class KlingAdapter(ProviderAdapter):
    finds_tasks_by_external_id = True
    calls_back = True

    def __init__(
        self,
        capabilities: ProviderCapabilities,
        base_url: str,
        client: httpx.Client,
        secret_arn: str,
        *,
        clock: Clock = time.time,
        tokens: JwtCache | None = None,
    ) -> None:
        self.capabilities = capabilities
        auth = KlingAuth(
            lambda: provider_credentials(secret_arn, NAME), PROCESS_TOKENS if tokens is None else tokens, clock
        )
        self.api = ProviderApi(KlingDialect(), base_url, client, auth)
        self.secret_arn = secret_arn

    def submit(
        self,
        job: Job,
        inputs: PresignedInputs,
        *,
        stage: str | None = None,
        external_id: str = "",
        callback_url: str | None = None,
    ) -> TaskRef:
        body = self.request_body(job, inputs, external_id)
        if callback_url:
            body["callback_url"] = callback_url
        taken = DUPLICATE_CODE if external_id else None
        data = self.api.call("POST", TASKS_PATH, "submit", creates_task=True, taken_code=taken, json=body)
        return TaskRef(_task(data).task_id)

    def find(self, job: Job, *, stage: str, external_id: str, not_before: datetime) -> TaskRef | None:
        try:
            found = _task(self.api.call("GET", _task_path(external_id), "submit look-up", about_task=True))
        except TaskMissing:
            return None
        reported = found.task_info.external_task_id if found.task_info else None
        created = datetime.fromtimestamp(found.created_at / 1000, UTC) if found.created_at is not None else None
        if reported != external_id or created is None or created < not_before - CLOCK_SKEW:
            when = created.isoformat() if created else "at an unknown time"
            raise ProviderRejected(
                f"kling task {found.task_id} answers to external_task_id {external_id} but is not this attempt's "
                f"(it reports external_task_id {reported!r}, created {when}, before this attempt's first submission "
                f"at {not_before.isoformat()}); it was not adopted"
            )
        return TaskRef(found.task_id)

    def request_body(self, job: Job, inputs: PresignedInputs, external_id: str = "") -> dict[str, Any]:
        """The create-task body: ``image``, ``sound_file`` xor ``audio_id``, ``prompt``, ``mode``, watermark."""
        options = options_as(job.options, KlingAvatarOptions, NAME)
        prompt = job.request.prompt
        body: dict[str, Any] = {"image": inputs.image_url}
        if options.audio_id is not None:
            body["audio_id"] = options.audio_id
        else:
            body["sound_file"] = inputs.audio_url
        if prompt:
            body["prompt"] = prompt
        body["mode"] = options.mode
        body["watermark_info"] = {"enabled": options.watermark}
        if external_id:
            body["external_task_id"] = external_id
        return body

    def read_callback(self, delivery: CallbackDelivery, *, now: datetime) -> CallbackReport:
        """Nothing in the body is believed: the task it names is read again from Kling, and must be this attempt's."""
        secret = provider_credentials(self.secret_arn, NAME).get("webhook_secret")
        if secret:
            verify_standard(delivery.headers, delivery.body, secret, now)
        task_id = callback_task_id(delivery.body)
        try:
            found = self._query(task_id)
        except ProviderTaskFailed as unknown:
            raise ForgedCallback(unknown.cause) from None
        reported = found.task_info.external_task_id if found.task_info else None
        if reported != delivery.external_id:
            raise ForgedCallback(f"kling task {task_id} is not this attempt's (external_task_id {reported!r})")
        return CallbackReport.of(found.task_id, lambda: _status(found))

    def check(self, job: Job, task: TaskRef) -> TaskCheck:
        return _status(self._query(task.task_id))

    def result(self, job: Job, task: TaskRef) -> ResultLocation:
        try:
            found = self._query(task.task_id)
        except ProviderTaskFailed as error:
            raise ResultUnavailable(error.cause) from error
        url = found.video_url
        if found.task_status != "succeed" or url is None:
            raise ResultUnavailable(f"kling task {task.task_id} has no output video (status {found.task_status})")
        return ResultLocation(url)

    def _query(self, task_id: str) -> KlingTask:
        try:
            return _task(self.api.call("GET", _task_path(task_id), "task query", about_task=True))
        except TaskMissing as missing:
            raise ProviderTaskFailed(f"{missing.detail} (task {task_id} is unknown to kling)") from None


def _status(found: KlingTask) -> TaskCheck:
    status, task_id = found.task_status, found.task_id
    if status in RUNNING_STATUSES:
        return TaskCheck(status="running", provider_status=status)
    if status == "succeed":
        if found.video_url is None:
            raise ProviderTaskFailed(f"kling task {task_id} succeeded without an output video")
        return TaskCheck(
            status="succeeded", provider_status=status, reported_units=_units(found), completed_at=_updated(found)
        )
    if status == "failed":
        reason = clip(found.task_status_msg or "no reason given")
        raise ProviderTaskFailed(f"kling task {task_id} failed: {reason}")
    raise ProviderTaskFailed(f"kling task {task_id} reported an unknown status {status!r}")


def _task(data: Any) -> KlingTask:
    return validated(KlingTask, data, "kling returned an unreadable task")


def _units(task: KlingTask) -> float | None:
    try:
        return float(task.final_unit_deduction) if task.final_unit_deduction is not None else None
    except ValueError:
        return None


def _updated(task: KlingTask) -> datetime | None:
    """A finished task's ``updated_at``: when its status last changed, to ``succeed``, by Kling's clock."""
    return datetime.fromtimestamp(task.updated_at / 1000, UTC) if task.updated_at is not None else None


def _task_path(task_id: str) -> str:
    return f"{TASKS_PATH}/{quote(task_id, safe='')}"
