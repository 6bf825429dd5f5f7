"""Kling AI Avatar: ``POST /v1/videos/avatar/image2video``, ``GET /v1/videos/avatar/image2video/{id}``.

Auth: ``Authorization: Bearer <api_key>``, or with the legacy access/secret key pair a short-lived HS256 JWT
(``iss`` = access key, ``exp`` = now + 30 min, ``nbf`` = now - 5 s) sent the same way.

Envelope: ``{code, message, request_id, data}``, ``code == 0`` on success; ``data.task_status`` is one of
``submitted``, ``processing``, ``succeed``, ``failed``; a finished task has ``data.task_result.videos[].url``.

Every task is created with an ``external_task_id`` unique to this deployment, job, attempt and stage (Kling keeps
it unique per account), so an unanswered create can be looked up, and sending it again cannot make a second task.
A task found by that id is adopted only if Kling reports exactly that id and it was created after the attempt's
first submission began.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import quote

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..capabilities import ProviderCapabilities
from ..credentials import provider_credentials
from ..errors import (
    InvalidRequest,
    ProviderRejected,
    ProviderTaskFailed,
    ProviderThrottled,
    ProviderUnavailable,
    ResultUnavailable,
)
from ..models import Job
from ..options import KlingAvatarOptions
from ..redaction import register
from .base import ExternalIdTaken, PresignedInputs, ProviderAdapter, ResultLocation, TaskCheck, TaskRef
from .http import check_create_answer, json_body, transport_errors

TASKS_PATH = "/v1/videos/avatar/image2video"
RUNNING_STATUSES = frozenset({"submitted", "processing"})
MAX_PROMPT_CHARS = 2500
JWT_LIFETIME_SECONDS = 1800
JWT_NOT_BEFORE_SKEW_SECONDS = 5
JWT_RENEW_MARGIN_SECONDS = 300
_MAX_MESSAGE_CHARS = 300
CREDENTIALS_HINT = "check the kling credentials in the provider secret"
# How far Kling's clock may be behind ours when it stamps a task's creation time.
CLOCK_SKEW = timedelta(minutes=5)

# Kling's documented business codes, by how the state machine should treat them.
AUTH_CODES: Mapping[int, str] = {
    1000: "authentication failed",
    1001: "authorization is empty",
    1002: "authorization is invalid",
    1003: "authorization is not yet valid",
    1004: "authorization has expired",
}
THROTTLED_CODES: Mapping[int, str] = {
    1302: "request rate limit exceeded",
    1303: "concurrency or QPS over the resource pack limit",
}
UNAVAILABLE_CODES: Mapping[int, str] = {
    5000: "server internal error",
    5001: "service temporarily unavailable",
    5002: "server internal timeout",
}
REJECTED_CODES: Mapping[int, str] = {
    1100: "account exception",
    1101: "account in arrears",
    1102: "resource pack exhausted or expired",
    1103: "no access to the requested resource",
    1200: "invalid request parameters",
    1201: "invalid parameter value",
    1300: "platform policy triggered",
    1301: "content safety policy triggered",
    1304: "IP whitelist policy triggered",
}
NOT_FOUND_CODES: Mapping[int, str] = {
    1202: "requested method is invalid",
    1203: "requested resource does not exist",
}
DUPLICATE_CODE = 1201

Clock = Callable[[], float]


class KlingVideo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    url: str | None = None
    duration: str | float | None = None


class KlingTaskResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    videos: list[KlingVideo] = Field(default_factory=list)


class KlingTaskInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    external_task_id: str | None = None


class KlingTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: str = Field(min_length=1)
    task_status: str = ""
    task_status_msg: str | None = None
    task_result: KlingTaskResult | None = None
    task_info: KlingTaskInfo | None = None
    created_at: int | None = None  # milliseconds since the epoch
    final_unit_deduction: str | float | None = None  # the units the finished task was charged, as Kling reports

    @property
    def video_url(self) -> str | None:
        videos = self.task_result.videos if self.task_result else []
        return videos[0].url if videos and videos[0].url else None


@dataclass(frozen=True)
class _Token:
    identity: str
    value: str
    expires_at: float


class JwtCache:
    """Signed JWTs per access key, shared by every adapter in the process and renewed shortly before expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}

    def token(self, access_key: str, secret_key: str, now: float) -> str:
        identity = _identity(access_key, secret_key)
        with self._lock:
            cached = self._tokens.get(access_key)
            if cached and cached.identity == identity and cached.expires_at - now > JWT_RENEW_MARGIN_SECONDS:
                return cached.value
            issued = int(now)
            expires_at = issued + JWT_LIFETIME_SECONDS
            claims = {"iss": access_key, "exp": expires_at, "nbf": issued - JWT_NOT_BEFORE_SKEW_SECONDS}
            value = jwt.encode(claims, secret_key, algorithm="HS256", headers={"alg": "HS256", "typ": "JWT"})
            self._tokens[access_key] = _Token(identity, value, expires_at)
            return value

    def drop(self, access_key: str) -> None:
        with self._lock:
            self._tokens.pop(access_key, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


PROCESS_TOKENS = JwtCache()
"""The per-process JWT cache (a warm Lambda reuses its token for up to 25 minutes)."""


@dataclass(frozen=True)
class _Auth:
    header: str
    access_key: str | None = None


class _AuthRefused(Exception):
    """Kling answered 401 or an auth code: the caller re-signs and retries once."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _DuplicateExternalId(Exception):
    """Kling refused a create with code 1201, which is also its answer to a reused external_task_id."""

    def __init__(self, error: ProviderRejected) -> None:
        super().__init__(error.cause)
        self.error = error


class _NotFound(Exception):
    """Kling does not know the task (HTTP 404, code 1202 or 1203)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class KlingAdapter(ProviderAdapter):
    name = "kling"

    def __init__(
        self,
        capabilities: ProviderCapabilities,
        base_url: str,
        client: httpx.Client,
        *,
        clock: Clock = time.time,
        tokens: JwtCache | None = None,
    ) -> None:
        self.capabilities = capabilities
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.clock = clock
        self.tokens = tokens if tokens is not None else PROCESS_TOKENS

    finds_tasks_by_external_id = True

    def submit(self, job: Job, inputs: PresignedInputs, *, stage: str | None = None, external_id: str = "") -> TaskRef:
        body = self.request_body(job, inputs, external_id)
        try:
            created = self._task(self._call("POST", TASKS_PATH, "submit", json=body))
        except _DuplicateExternalId as duplicate:
            if not external_id:
                raise duplicate.error from duplicate
            raise ExternalIdTaken(duplicate.error) from duplicate
        return TaskRef(created.task_id)

    def find(self, job: Job, *, stage: str, external_id: str, not_before: datetime) -> TaskRef | None:
        try:
            found = self._task(self._call("GET", _task_path(external_id), "submit look-up"))
        except _NotFound:
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
        try:
            options = KlingAvatarOptions.model_validate(job.request.options)
        except ValidationError as error:
            raise InvalidRequest(f"invalid options for kling/avatar: {error}") from error
        if (inputs.audio_url is None) == (options.audio_id is None):
            raise InvalidRequest("kling/avatar needs exactly one of audio or options.audio_id")
        prompt = job.request.prompt
        if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequest(f"kling/avatar prompts are at most {MAX_PROMPT_CHARS} characters")
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

    def check(self, job: Job, task: TaskRef) -> TaskCheck:
        found = self._query(task.task_id)
        status = found.task_status
        if status in RUNNING_STATUSES:
            return TaskCheck(status="running", provider_status=status)
        if status == "succeed":
            if found.video_url is None:
                raise ProviderTaskFailed(f"kling task {task.task_id} succeeded without an output video")
            return TaskCheck(status="succeeded", provider_status=status, reported_units=_units(found))
        if status == "failed":
            reason = _clip(found.task_status_msg or "no reason given")
            raise ProviderTaskFailed(f"kling task {task.task_id} failed: {reason}")
        raise ProviderTaskFailed(f"kling task {task.task_id} reported an unknown status {status!r}")

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
            return self._task(self._call("GET", _task_path(task_id), "task query"))
        except _NotFound as missing:
            raise ProviderTaskFailed(f"{missing.detail} (task {task_id} is unknown to kling)") from None

    def _task(self, data: Any) -> KlingTask:
        try:
            return KlingTask.model_validate(data)
        except ValidationError as error:
            raise ProviderUnavailable(f"kling returned an unreadable task: {_clip(str(error))}") from error

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """Send one request, re-signing and retrying once if Kling refuses the authorization."""
        auth = self._auth()
        try:
            return self._send(method, path, what, auth, **kwargs)
        except _AuthRefused:
            if auth.access_key is not None:
                self.tokens.drop(auth.access_key)
        auth = self._auth()
        try:
            return self._send(method, path, what, auth, **kwargs)
        except _AuthRefused as refused:
            raise ProviderRejected(f"{refused.detail} ({CREDENTIALS_HINT})") from None

    def _auth(self) -> _Auth:
        entry = provider_credentials("kling")
        api_key, access_key, secret_key = entry.get("api_key"), entry.get("access_key"), entry.get("secret_key")
        if api_key:
            return _Auth(f"Bearer {api_key}")
        if access_key and secret_key:
            token = self.tokens.token(access_key, secret_key, self.clock())
            register(token)
            return _Auth(f"Bearer {token}", access_key)
        raise ProviderRejected("the provider secret's kling entry needs api_key, or access_key and secret_key")

    def _send(self, method: str, path: str, what: str, auth: _Auth, **kwargs: Any) -> Any:
        creates = method == "POST"
        with transport_errors("kling", what, creates_task=creates):
            response = self.client.request(
                method, self.base_url + path, headers={"Authorization": auth.header}, **kwargs
            )
        envelope = json_body(response)
        if creates and not response.is_success:
            check_create_answer("kling", what, response, readable=envelope is not None)
        code = envelope.get("code") if envelope else None
        if isinstance(code, bool) or not isinstance(code, int):
            code = None
        if envelope is not None and code == 0 and response.is_success:
            return envelope.get("data")
        _raise_for(what, response, envelope, code)


def _raise_for(what: str, response: httpx.Response, envelope: dict[str, Any] | None, code: int | None) -> NoReturn:
    status = response.status_code
    message = _clip(str((envelope or {}).get("message") or response.reason_phrase or "no message"))
    request_id = _clip(str((envelope or {}).get("request_id") or ""))
    where = f"request_id {request_id}" if request_id else "no request_id"
    if code is not None:
        meaning = _meaning(code)
        detail = f"kling {what} answered HTTP {status}, code {code} ({meaning}): {message} [{where}]"
    else:
        detail = f"kling {what} answered HTTP {status}: {message} [{where}]"
    if code in AUTH_CODES or (code is None and status == 401):
        raise _AuthRefused(detail)
    if code in THROTTLED_CODES:
        raise ProviderThrottled(detail)
    if code in UNAVAILABLE_CODES:
        raise ProviderUnavailable(detail)
    if code in NOT_FOUND_CODES or (code is None and status == 404):
        if what != "submit":
            raise _NotFound(detail)
        raise ProviderRejected(detail)
    if code in REJECTED_CODES:
        if code == DUPLICATE_CODE and what == "submit":
            raise _DuplicateExternalId(ProviderRejected(detail))
        raise ProviderRejected(detail)
    # An undocumented code, or none at all: go by the HTTP status.
    if status == 429:
        raise ProviderThrottled(detail)
    if status >= 500 or status in (408, 409):
        raise ProviderUnavailable(detail)
    if envelope is None:
        raise ProviderUnavailable(f"kling {what} returned an unreadable body (HTTP {status})")
    raise ProviderRejected(detail)


def _meaning(code: int) -> str:
    for table in (AUTH_CODES, THROTTLED_CODES, UNAVAILABLE_CODES, REJECTED_CODES, NOT_FOUND_CODES):
        if code in table:
            return table[code]
    return "undocumented code"


def _units(task: KlingTask) -> float | None:
    try:
        return float(task.final_unit_deduction) if task.final_unit_deduction is not None else None
    except ValueError:
        return None


def _task_path(task_id: str) -> str:
    return f"{TASKS_PATH}/{quote(task_id, safe='')}"


def _identity(access_key: str, secret_key: str) -> str:
    """Changes when either key is rotated, without keeping the secret itself around as a dict key."""
    return hashlib.sha256(f"{access_key}\0{secret_key}".encode()).hexdigest()


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 3] + "..."
