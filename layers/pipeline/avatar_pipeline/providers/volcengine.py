"""Volcengine Visual, OmniHuman 1.5: ``POST /?Action=CVSubmitTask|CVGetResult|CVProcess&Version=2022-08-31``.

JSON bodies, signed with SignerV4 (region ``cn-north-1``, service ``cv``). Business envelope:
``{code, message, data, request_id, status, time_elapsed}``, success ``code == 10000`` (``data`` is null
otherwise). Gateway errors (authentication, unknown action, limits): HTTP 4xx/5xx with
``{"ResponseMetadata": {RequestId, Action, Version, Service, Region, Error: {Code, Message}}}``.

Flow: optional subject recognition (an asynchronous task, stage ``subject_check``), optional subject
detection (synchronous ``CVProcess``, to pick the mask of the subject that speaks), then the video task
(stage ``generate``). Task status: ``processing`` / ``in_queue`` / ``generating`` → ``done`` (success, or a
failure told by the outer code), ``not_found`` (never existed or older than 12 h), ``expired``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NoReturn

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..capabilities import ProviderCapabilities
from ..credentials import provider_credentials
from ..errors import (
    InvalidMedia,
    InvalidRequest,
    ProviderRejected,
    ProviderTaskFailed,
    ProviderThrottled,
    ProviderUnavailable,
    ResultUnavailable,
)
from ..models import Job
from ..options import VolcengineOmniHumanOptions
from .base import GENERATE, PresignedInputs, ProviderAdapter, ResultLocation, TaskCheck, TaskRef
from .http import check_create_answer, json_body, transport_errors
from .volcengine_signing import sign_request

NAME = "volcengine"
VERSION = "2022-08-31"
VIDEO_REQ_KEY = "jimeng_realman_avatar_picture_omni_v15"
SUBJECT_REQ_KEY = "jimeng_realman_avatar_picture_create_role_omni_v15"
DETECTION_REQ_KEY = "jimeng_realman_avatar_object_detection"
SUBJECT_CHECK = "subject_check"
SUCCESS = 10000
RUNNING_STATUSES = frozenset({"processing", "in_queue", "generating"})

# Business codes (seed doc 002 and the platform's common codes), each with what it means for the job.
THROTTLED_CODES = {
    50429: "the API's QPS limit was reached",
    50430: "the API's concurrency limit was reached",
}
UNAVAILABLE_CODES = {
    50500: "internal error",
    50501: "internal algorithm (RPC) error",
    50511: "the output image did not pass moderation (documented as retryable)",
}
MODERATION_CODES = {
    50411: "the input image did not pass moderation",
    50412: "the input text did not pass moderation",
    50512: "the output text did not pass moderation",
    50513: "the input video did not pass moderation",
    50514: "the input audio did not pass moderation",
    50413: "the input text contains sensitive or copyrighted words",
}
INVALID_INPUT_CODE = 50215
BAD_PARAMETERS_CODE = 50200
ACCESS_DENIED_CODE = 50400
API_MISSING_CODE = 50402

ACCESS_KEY_HINT = "check the volcengine access key in the provider secret"
# Gateway error codes that mean the credentials or the signature were refused.
AUTH_ERROR_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "InvalidAccessKey",
        "InvalidAuthorization",
        "InvalidCredential",
        "MissingAuthenticationToken",
        "InvalidSecretToken",
        "AccessDenied",
    }
)
THROTTLE_MARKERS = ("Throttl", "FlowLimit", "RequestLimit")


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: int
    message: str | None = None
    data: Any = None
    request_id: str | None = None


class SubmitData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: str | int


class TaskData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str = Field(min_length=1)
    video_url: str | None = None
    aigc_meta_tagged: bool | None = None
    resp_data: str | dict[str, Any] | None = None


class ProcessData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resp_data: str | dict[str, Any] | None = None


class VolcengineAdapter(ProviderAdapter):
    name = NAME

    def __init__(self, capabilities: ProviderCapabilities, base_url: str, client: httpx.Client) -> None:
        self.capabilities = capabilities
        self.base_url = base_url.rstrip("/")
        self.client = client

    # --- the adapter interface ---------------------------------------------------------------------

    def first_stage(self, job: Job) -> str:
        return SUBJECT_CHECK if _options(job).check_subject else GENERATE

    def submit(self, job: Job, inputs: PresignedInputs, *, stage: str | None = None, external_id: str = "") -> TaskRef:
        stage = stage or self.first_stage(job)
        if stage == SUBJECT_CHECK:
            body = {"req_key": SUBJECT_REQ_KEY, "image_url": inputs.image_url}
            return TaskRef(self._submit_task(body, "subject recognition submit"), SUBJECT_CHECK)
        if stage != GENERATE:
            raise ProviderTaskFailed(f"volcengine has no stage {stage!r}")
        return TaskRef(self._submit_video(job, _options(job), inputs), GENERATE)

    def check(self, job: Job, task: TaskRef) -> TaskCheck:
        if task.stage == SUBJECT_CHECK:
            return self._check_subject(job, task)
        if task.stage != GENERATE:
            raise ProviderTaskFailed(f"volcengine task {task.task_id} is in an unknown stage {task.stage!r}")
        data = self._video_result(job, task.task_id, "status query")
        if data.status in RUNNING_STATUSES:
            return TaskCheck(status="running", provider_status=data.status)
        if data.status == "done":
            if not data.video_url:
                raise ProviderTaskFailed(f"volcengine task {task.task_id} is done without a video_url")
            return TaskCheck(status="succeeded", provider_status=data.status)
        raise _task_status_failure(task.task_id, data.status)

    def result(self, job: Job, task: TaskRef) -> ResultLocation:
        if task.stage != GENERATE:
            raise ResultUnavailable(f"volcengine task {task.task_id} ({task.stage}) has no video")
        # The video_url lives 1 h: every call asks for a fresh one.
        data = self._video_result(job, task.task_id, "result query")
        if data.status == "done" and data.video_url:
            return ResultLocation(data.video_url, aigc_meta_tagged=data.aigc_meta_tagged)
        if data.status in ("not_found", "expired"):
            raise ResultUnavailable(_task_status_failure(task.task_id, data.status).cause)
        raise ResultUnavailable(f"volcengine task {task.task_id} has no video (status {data.status})")

    # --- stages -------------------------------------------------------------------------------------

    def _check_subject(self, job: Job, task: TaskRef) -> TaskCheck:
        body = {"req_key": SUBJECT_REQ_KEY, "task_id": task.task_id}
        data = self._task_data(self._call("CVGetResult", body, "subject recognition query"), "subject recognition")
        if data.status in RUNNING_STATUSES:
            return TaskCheck(status="running", provider_status=data.status)
        if data.status != "done":
            raise _task_status_failure(task.task_id, data.status)
        found = _resp_data(data.resp_data, "subject recognition").get("status")
        if found == 0:
            raise InvalidMedia(
                f"image {job.image.display} has no recognisable subject (volcengine subject recognition)"
            )
        if found != 1:
            raise ProviderUnavailable(f"volcengine subject recognition returned an unknown status {found!r}")
        return TaskCheck(status="running", provider_status=data.status, next_stage=GENERATE)

    def _submit_video(self, job: Job, options: VolcengineOmniHumanOptions, inputs: PresignedInputs) -> str:
        if inputs.audio_url is None:
            raise InvalidRequest("volcengine/omnihuman-1.5 needs an audio file")
        body: dict[str, Any] = {
            "req_key": VIDEO_REQ_KEY,
            "image_url": inputs.image_url,
            "audio_url": inputs.audio_url,
        }
        if options.speaker is not None:
            body["mask_url"] = [self._speaker_mask(job, inputs.image_url, options.speaker)]
        elif options.mask_url:
            body["mask_url"] = [inputs.presign(uri) for uri in options.mask_url]
        if job.request.seed is not None:
            body["seed"] = job.request.seed
        if job.request.prompt:
            body["prompt"] = job.request.prompt
        # Always both: the documented pairing (720 with fast mode, 1080 without) unless the job sets both.
        body["output_resolution"], body["pe_fast_mode"] = options.quality()
        return self._submit_task(body, "submit")

    def _speaker_mask(self, job: Job, image_url: str, speaker: int) -> str:
        """Subject detection; masks come ordered by area, so subject N is the Nth largest."""
        envelope = self._call("CVProcess", {"req_key": DETECTION_REQ_KEY, "image_url": image_url}, "subject detection")
        try:
            data = ProcessData.model_validate(envelope.data)
        except ValidationError as error:
            raise ProviderUnavailable(f"volcengine subject detection returned unreadable data: {error}") from error
        result = _resp_data(data.resp_data, "subject detection")
        masks = _mask_urls(result)
        if len(masks) < speaker:
            raise InvalidMedia(
                f"options.speaker asks for subject {speaker}, but volcengine subject detection found "
                f"{len(masks)} subject(s) in image {job.image.display}"
            )
        return masks[speaker - 1]

    # --- calls --------------------------------------------------------------------------------------

    def _submit_task(self, body: dict[str, Any], what: str) -> str:
        envelope = self._call("CVSubmitTask", body, what)
        try:
            task_id = str(SubmitData.model_validate(envelope.data).task_id)
        except ValidationError as error:
            raise ProviderUnavailable(f"volcengine {what} returned no task_id: {error}") from error
        if not task_id:
            raise ProviderUnavailable(f"volcengine {what} returned an empty task_id")
        return task_id

    def _video_result(self, job: Job, task_id: str, what: str) -> TaskData:
        body = {"req_key": VIDEO_REQ_KEY, "task_id": task_id}
        if job.request.aigc_meta is not None:
            # A serialized string, as documented; only the fields the job sets.
            aigc_meta = job.request.aigc_meta.model_dump(exclude_none=True)
            body["req_json"] = json.dumps({"aigc_meta": aigc_meta}, ensure_ascii=False)
        return self._task_data(self._call("CVGetResult", body, what), what)

    def _task_data(self, envelope: Envelope, what: str) -> TaskData:
        try:
            return TaskData.model_validate(envelope.data)
        except ValidationError as error:
            raise ProviderUnavailable(f"volcengine {what} returned unreadable data: {error}") from error

    def _call(self, action: str, body: dict[str, Any], what: str) -> Envelope:
        credentials = provider_credentials(NAME)
        access_key_id, secret_access_key = credentials.get("access_key_id"), credentials.get("secret_access_key")
        if not isinstance(access_key_id, str) or not access_key_id:
            raise ProviderRejected("the provider secret has no volcengine.access_key_id")
        if not isinstance(secret_access_key, str) or not secret_access_key:
            raise ProviderRejected("the provider secret has no volcengine.secret_access_key")
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        url = f"{self.base_url}/?Action={action}&Version={VERSION}"
        headers = sign_request(
            "POST",
            url,
            {"Content-Type": "application/json"},
            content,
            access_key_id,
            secret_access_key,
            now=datetime.now(UTC),
        )
        with transport_errors(NAME, what, creates_task=action == "CVSubmitTask"):
            response = self.client.post(url, content=content, headers=headers)
        payload = json_body(response)
        if action == "CVSubmitTask" and not response.is_success:
            check_create_answer(NAME, what, response, readable=payload is not None)
        metadata = (payload or {}).get("ResponseMetadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("Error"), dict):
            _raise_gateway_error(response.status_code, metadata, what)
        try:
            envelope = Envelope.model_validate(payload)
        except ValidationError:
            _raise_for_http_status(response, what)
        if envelope.code != SUCCESS:
            _raise_business_error(envelope, what)
        if not response.is_success:
            _raise_for_http_status(response, what)
        return envelope


def _options(job: Job) -> VolcengineOmniHumanOptions:
    try:
        return VolcengineOmniHumanOptions.model_validate(job.request.options)
    except ValidationError as error:
        raise InvalidRequest(f"invalid options for volcengine/omnihuman-1.5: {error}") from error


def _task_status_failure(task_id: str, status: str) -> ProviderTaskFailed:
    """A status that ends the task without a video: nothing to wait for, never polled again."""
    if status == "not_found":
        return ProviderTaskFailed(f"volcengine task {task_id} not found: it never existed or is older than 12 h")
    if status == "expired":
        # Decision: an expired task fails the job instead of being resubmitted here. Resubmitting would start
        # a second paid generation under the same job_id behind the caller's back (job_id is the idempotency
        # key, and the persisted result names one provider task); the caller decides whether to pay again.
        return ProviderTaskFailed(
            f"volcengine task {task_id} expired at the provider; resubmit the job with a new job_id"
        )
    return ProviderTaskFailed(f"volcengine task {task_id} reported an unknown status {status!r}")


def _resp_data(value: str | dict[str, Any] | None, what: str) -> dict[str, Any]:
    """``resp_data`` is documented as a JSON string; an object is accepted as well."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value or "")
    except ValueError as error:
        raise ProviderUnavailable(f"volcengine {what} returned an unreadable resp_data: {error}") from error
    if not isinstance(parsed, dict):
        raise ProviderUnavailable(f"volcengine {what} returned a resp_data that is not a JSON object")
    return parsed


def _mask_urls(result: dict[str, Any]) -> list[str]:
    detection = result.get("object_detection_result")
    mask = detection.get("mask") if isinstance(detection, dict) else None
    urls = mask.get("url") if isinstance(mask, dict) else None
    if urls is None:
        return []
    if not isinstance(urls, list) or not all(isinstance(url, str) and url for url in urls):
        raise ProviderUnavailable("volcengine subject detection returned unreadable mask URLs")
    return urls


def _request_id(value: object) -> str:
    return f"request_id {value}" if value else "no request_id"


def _raise_business_error(envelope: Envelope, what: str) -> NoReturn:
    code = envelope.code
    message = envelope.message or "no message"
    detail = f"volcengine {what} answered code {code} ({message}; {_request_id(envelope.request_id)})"
    if code in THROTTLED_CODES:
        raise ProviderThrottled(f"{detail}: {THROTTLED_CODES[code]}")
    if code in UNAVAILABLE_CODES:
        raise ProviderUnavailable(f"{detail}: {UNAVAILABLE_CODES[code]}")
    if code in MODERATION_CODES:
        raise ProviderRejected(f"{detail}: refused by moderation, {MODERATION_CODES[code]}")
    if code == INVALID_INPUT_CODE:
        raise InvalidMedia(f"{detail}: the input is invalid for this service (for example audio of 60 s or more)")
    if code == BAD_PARAMETERS_CODE:
        raise ProviderRejected(f"{detail}: the request parameters were refused")
    if code == ACCESS_DENIED_CODE:
        raise ProviderRejected(f"{detail}: permission, timestamp or signature refused; {ACCESS_KEY_HINT}")
    if code == API_MISSING_CODE:
        raise ProviderRejected(f"{detail}: the API does not exist or is not enabled for this account")
    if code >= 50500:
        raise ProviderUnavailable(f"{detail}: unknown server-side code")
    raise ProviderRejected(f"{detail}: unknown code")


def _raise_gateway_error(status: int, metadata: dict[str, Any], what: str) -> NoReturn:
    error: dict[str, Any] = metadata["Error"]
    code = str(error.get("Code") or "no code")
    message = str(error.get("Message") or "no message")
    detail = f"volcengine {what} answered HTTP {status} {code}: {message} ({_request_id(metadata.get('RequestId'))})"
    if status == 429 or any(marker in code for marker in THROTTLE_MARKERS):
        raise ProviderThrottled(detail)
    if code in AUTH_ERROR_CODES or status in (401, 403):
        raise ProviderRejected(f"{detail}; {ACCESS_KEY_HINT}")
    if code == "InvalidTimestamp":
        raise ProviderRejected(f"{detail}; check the clock of the machine signing the request")
    if status >= 500:
        raise ProviderUnavailable(detail)
    if 400 <= status < 500:
        raise ProviderRejected(detail)
    raise ProviderUnavailable(detail)


def _raise_for_http_status(response: httpx.Response, what: str) -> NoReturn:
    """No readable envelope: judge by the HTTP status alone."""
    status = response.status_code
    detail = f"volcengine {what} answered HTTP {status} without a readable envelope"
    snippet = response.text[:200].strip()
    if snippet:
        detail = f"{detail}: {snippet}"
    if status == 429:
        raise ProviderThrottled(detail)
    if status in (401, 403):
        raise ProviderRejected(f"{detail}; {ACCESS_KEY_HINT}")
    if 400 <= status < 500 and status not in (408, 409):
        raise ProviderRejected(detail)
    raise ProviderUnavailable(detail)
