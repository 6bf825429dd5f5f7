"""Kling AI Avatar: ``POST /v1/videos/avatar/image2video``, ``GET /v1/videos/avatar/image2video/{id}``.

Auth: ``Bearer <api_key>`` (``credentials["kling"]["api_key"]``), or ``Bearer <JWT>`` signed HS256 with
``credentials["kling"]["secret_key"]`` whose ``iss`` is the ``access_key``; ``exp`` is required and enforced,
and so is ``nbf`` when present.
Errors: HTTP status + ``{"code", "message", "request_id"}`` with Kling's documented codes
(401/1001 empty, 1002 invalid or badly signed, 1003 not yet valid, 1004 expired; 1000 unknown access key).

Where a problem is reported, as a choice documented here:

- Request syntax (unknown or missing fields, a ``data:`` prefix, bad ``mode`` or ``watermark_info``, a prompt over
  2500 characters, an unknown ``audio_id``, a reused ``external_task_id``, ``model_name``): synchronous HTTP 400,
  code 1201, naming the field.
- Media content (download failure, format, size, dimensions, aspect ratio, audio duration): the inputs are
  downloaded while the create request is answered, and the task is accepted and then ends ``failed`` with a
  ``task_status_msg`` naming the problem, the way the pipeline sees content problems from a hosted API.
- An id the query does not know (neither a task id nor an external task id): HTTP 404, code 1203
  ("requested resource does not exist").

A create the account refuses (its concurrency limit, or ``submit_throttle_ratio``), checked once the request's
syntax is valid and before the inputs are downloaded, answers HTTP 429, code 1303 ("Concurrency or QPS exceeds the
resource pack limit"), as the ``concurrency`` fault does.

``callback_url`` is validated and recorded, but no callback is sent (the pipeline polls).
``external_task_id`` is unique per account: the simulator serves one account, whichever auth mode is used.
``watermark_url`` (when ``watermark_info.enabled``) serves the same video as ``url``.

Admin: ``POST /_simulator/kling/audio`` registers a TTS-like audio and returns its ``audio_id``: the body is
either raw audio bytes, or JSON ``{"seconds": 4.0, "format": "wav"|"mp3"|"m4a"}`` to have one generated.
"""

import base64
import binascii
import io
import math
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import av
import httpx
import jwt
from flask import Blueprint, Response, jsonify, request
from PIL import Image

from ..samples import speech_audio
from .render import SAMPLE_RATE, MediaDecodeError, decode_audio
from .state import Provider, SimulatorState
from .tasks import MediaRef, Task, TaskStatus

NAME = "kling"
TASKS_PATH = "/v1/videos/avatar/image2video"
FIELDS = frozenset(
    {"image", "audio_id", "sound_file", "prompt", "mode", "watermark_info", "callback_url", "external_task_id"}
)
MODES = ("std", "pro")
MAX_PROMPT_CHARS = 2500
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_AUDIO_BYTES = 5 * 1024 * 1024
MIN_IMAGE_SIDE = 300
ASPECT_RANGE = (1 / 2.5, 2.5)
AUDIO_SECONDS_RANGE = (2.0, 300.0)
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png"}
# av's demuxer names of mp3, wav, m4a and aac (ADTS) files.
AUDIO_CONTAINERS = frozenset({"mp3", "wav", "aac", "mov,mp4,m4a,3gp,3g2,mj2"})
# Units deducted per output second; the simulator's own figures (Kling publishes per-pack prices).
UNITS_PER_SECOND = {"std": 0.1, "pro": 0.2}

_STATUSES: dict[TaskStatus, str] = {
    "queued": "submitted",
    "running": "processing",
    "succeeded": "succeed",
    "failed": "failed",
}
# (HTTP status, code, message) of the Kling-only faults; throttle and server_error go through ``_fault_error``.
_FAULTS: dict[str, tuple[int, int, str]] = {
    "concurrency": (429, 1303, "Concurrency or QPS exceeds the resource pack limit"),
    "arrears": (429, 1101, "Account in arrears"),
    "content_safety": (400, 1301, "Triggered the content security policy of the platform"),
    "auth_expired": (401, 1004, "token expired"),
}
_SERVER_ERROR_CODES = {500: 5000, 503: 5001, 504: 5002}
# The ``echo`` fault's code per HTTP status: invalid parameter value, authorization invalid, no access.
_ECHO_CODES = {400: 1201, 401: 1002, 403: 1103}
_GENERATED_AUDIO_FORMATS = ("wav", "mp3", "m4a")


class InvalidField(ValueError):
    """A request field the API refuses synchronously (HTTP 400, code 1201)."""


@dataclass(frozen=True)
class Submission:
    image: MediaRef
    audio: MediaRef
    audio_is_registered: bool
    mode: str
    watermark: bool
    external_task_id: str | None


@dataclass
class _Record:
    """What Kling adds to a store task: timestamps in ms and the last status a query reported."""

    created_ms: int
    updated_ms: int
    status: str = "submitted"


@dataclass
class _Account:
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: dict[str, _Record] = field(default_factory=dict)
    external_ids: dict[str, str] = field(default_factory=dict)
    audio: dict[str, bytes] = field(default_factory=dict)


def _blueprint(state: SimulatorState) -> Blueprint:
    blueprint = Blueprint(NAME, __name__)
    account = _Account()

    @blueprint.before_request
    def authenticate() -> Response | None:
        if request.path.startswith("/_simulator/"):
            return None
        return _authenticate(state.credentials.get(NAME) or {})

    @blueprint.post(TASKS_PATH)
    def submit() -> Response:
        interrupted = _interrupt(state, "submit")
        if interrupted is not None:
            return interrupted
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, 1200, "request body must be a JSON object")
        try:
            submission = _parse(body, account)
            _check_external_id(account, submission.external_task_id)
        except InvalidField as exc:
            return _error(400, 1201, str(exc))
        with state.accounts.claim(NAME) as slot:
            if slot is None:
                return _error(*_FAULTS["concurrency"])
            image, audio, problem, seconds = _fetch_and_check(state, submission)
            failure = state.faults.take(NAME, "submit", {"task_failed"})
            if failure is not None:
                problem = "simulated generation failure"
            options = {
                "mode": submission.mode,
                "watermark": submission.watermark,
                "external_task_id": submission.external_task_id,
                "duration": seconds,
            }
            with account.lock:
                external_id = submission.external_task_id
                if external_id is not None and external_id in account.external_ids:
                    return _error(400, 1201, "external_task_id already exists")
                task = state.tasks.create(
                    provider=NAME,
                    model="avatar",
                    image=image,
                    audio=audio,
                    options=options,
                    slot=slot,
                    fail_with=problem,
                )
                created_ms = _ms(task.created_at.timestamp())
                account.records[task.id] = _Record(created_ms, created_ms)
                if external_id is not None:
                    account.external_ids[external_id] = task.id
        state.stats.record_submission(
            provider=NAME,
            model="avatar",
            task_id=task.id,
            image=body["image"],
            audio=body["sound_file"] if "sound_file" in body else f"audio_id:{body['audio_id']}",
            received_at=task.created_at,
            progress=lambda: state.tasks.progress(task.id),
            extra={"external_task_id": external_id or "", "mode": submission.mode},
        )
        data = {
            "task_id": task.id,
            "task_info": _task_info(task),
            "task_status": "submitted",
            "created_at": created_ms,
            "updated_at": created_ms,
        }
        return _success(data)

    @blueprint.get(f"{TASKS_PATH}/<task_id>")
    def query(task_id: str) -> Response:
        state.stats.count_result_query()
        interrupted = _interrupt(state, "result")
        if interrupted is not None:
            return interrupted
        with account.lock:
            resolved = task_id if task_id in account.records else account.external_ids.get(task_id)
        task = state.tasks.get(resolved) if resolved else None
        if task is None or task.provider != NAME:
            return _error(404, 1203, "task not found")
        status = _STATUSES[task.status]
        with account.lock:
            record = account.records[task.id]
            if record.status != status:
                record.status, record.updated_ms = status, max(record.created_ms, _ms(time.time()))
            created_ms, updated_ms = record.created_ms, record.updated_ms
        data: dict[str, Any] = {
            "task_id": task.id,
            "task_status": status,
            "task_status_msg": task.error,
            "task_info": _task_info(task),
            "created_at": created_ms,
            "updated_at": updated_ms,
        }
        if task.status == "succeeded" and task.video is not None:
            data["task_result"] = {"videos": [_video(state, task)]}
            data["final_unit_deduction"] = _units(task)
        return _success(data)

    @blueprint.post("/_simulator/kling/audio")
    def register_audio() -> tuple[Response, int]:
        try:
            audio = _audio_to_register()
            seconds = _duration(audio)
        except (ValueError, MediaDecodeError) as exc:
            return jsonify(error=str(exc)), 400
        audio_id = uuid.uuid4().hex
        with account.lock:
            account.audio[audio_id] = audio
        return jsonify(audio_id=audio_id, duration=round(seconds, 3)), 201

    return blueprint


PROVIDER = Provider(NAME, _blueprint)


def _authenticate(credentials: Mapping[str, Any]) -> Response | None:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return _error(401, 1001, "Authorization is empty")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme != "Bearer" or not token:
        return _error(401, 1002, "Authorization is invalid")
    api_key = credentials.get("api_key")
    if isinstance(api_key, str) and api_key and token == api_key:
        return None
    secret_key, access_key = credentials.get("secret_key"), credentials.get("access_key")
    if not isinstance(secret_key, str) or not secret_key or token.count(".") != 2:
        return _error(401, 1002, "Authorization is invalid")
    try:
        claims = jwt.decode(token, secret_key, algorithms=["HS256"], options={"require": ["iss", "exp"]})
    except jwt.ExpiredSignatureError:
        return _error(401, 1004, "token expired")
    except jwt.ImmatureSignatureError:
        return _error(401, 1003, "token not yet valid")
    except jwt.InvalidTokenError:
        return _error(401, 1002, "Authorization is invalid: bad token or signature")
    if claims.get("iss") != access_key:
        return _error(401, 1000, "Authentication failed: unknown access key")
    return None


def _interrupt(state: SimulatorState, operation: str) -> Response | None:
    fault = state.faults.take(NAME, operation, _FAULTS.keys())
    if fault is not None:
        status, code, message = _FAULTS[fault.kind]
        return _error(status, code, message)
    return state.faults.intercept(NAME, operation, _fault_error) or state.faults.echo(NAME, operation, _echo_error)


def _fault_error(status: int, message: str) -> Response:
    if status == 429:
        return _error(429, 1302, "API request too fast, exceeding the rate limit")
    return _error(status, _SERVER_ERROR_CODES.get(status, 5000), message)


def _echo_error(status: int, message: str) -> Response:
    return _error(status, _ECHO_CODES[status], message)


def _parse(body: Mapping[str, Any], account: _Account) -> Submission:
    """The request's fields, checked the way the API does; raises InvalidField with its message."""
    if "model_name" in body:
        raise InvalidField("model_name is not supported by the avatar API")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidField(f"unknown field: {', '.join(unknown)}")
    image = _media("image", body.get("image"))
    has_audio_id, has_sound_file = body.get("audio_id") not in (None, ""), body.get("sound_file") not in (None, "")
    if has_audio_id == has_sound_file:
        raise InvalidField("exactly one of audio_id or sound_file is required")
    if has_audio_id:
        audio_id = body["audio_id"]
        with account.lock:
            registered = account.audio.get(audio_id) if isinstance(audio_id, str) else None
        if registered is None:
            raise InvalidField(f"invalid audio_id: {audio_id!r} not found")
        audio: MediaRef = registered
    else:
        audio = _media("sound_file", body["sound_file"])
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str) or len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidField(f"prompt must be a string of at most {MAX_PROMPT_CHARS} characters")
    mode = body.get("mode", "std")
    if mode not in MODES:
        raise InvalidField(f"mode must be one of: {', '.join(MODES)}")
    watermark = body.get("watermark_info", {"enabled": False})
    if not isinstance(watermark, dict) or set(watermark) != {"enabled"} or not isinstance(watermark["enabled"], bool):
        raise InvalidField('watermark_info must be an object {"enabled": true|false}')
    callback_url = body.get("callback_url")
    if callback_url is not None and (
        not isinstance(callback_url, str) or not callback_url.startswith(("http://", "https://"))
    ):
        raise InvalidField("callback_url must be an http(s) URL")
    external_task_id = body.get("external_task_id")
    if external_task_id is not None and (not isinstance(external_task_id, str) or not external_task_id):
        raise InvalidField("external_task_id must be a non-empty string")
    return Submission(image, audio, has_audio_id, str(mode), watermark["enabled"], external_task_id)


def _media(field_name: str, value: object) -> MediaRef:
    """An http(s) URL to download, or the decoded bytes of raw base64."""
    if value is None or value == "":
        raise InvalidField(f"{field_name} is required")
    if not isinstance(value, str):
        raise InvalidField(f"invalid {field_name}: must be a string")
    if value.startswith("data:"):
        raise InvalidField(f"invalid {field_name}: do not add a data: prefix, send the raw base64 string")
    if value.startswith(("http://", "https://")):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise InvalidField(f"invalid {field_name}: must be a URL or base64-encoded data") from exc


def _check_external_id(account: _Account, external_task_id: str | None) -> None:
    with account.lock:
        if external_task_id is not None and external_task_id in account.external_ids:
            raise InvalidField("external_task_id already exists")


def _fetch_and_check(state: SimulatorState, submission: Submission) -> tuple[bytes, bytes, str | None, float | None]:
    """Download the inputs and check them: (image, audio, the problem that fails the task, audio seconds)."""
    timeout = state.settings.download_timeout_seconds
    try:
        image = _download("image", submission.image, MAX_IMAGE_BYTES, timeout)
        _check_image(image)
        audio_limit = None if submission.audio_is_registered else MAX_AUDIO_BYTES
        audio = _download("sound_file", submission.audio, audio_limit, timeout)
        seconds = _check_audio(audio, check_container=not submission.audio_is_registered)
    except _MediaProblem as problem:
        return b"", b"", str(problem), None
    return image, audio, None, seconds


class _MediaProblem(Exception):
    pass


def _download(what: str, ref: MediaRef, limit: int | None, timeout: float) -> bytes:
    data = ref if isinstance(ref, bytes) else _fetch(what, ref, limit, timeout)
    if limit is not None and len(data) > limit:
        raise _MediaProblem(f"{what} is larger than {limit // (1024 * 1024)} MB")
    return data


def _fetch(what: str, url: str, limit: int | None, timeout: float) -> bytes:
    received = bytearray()
    try:
        # trust_env=False: inputs are normally on loopback, which an environment proxy must not intercept.
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True, trust_env=False) as response:
            if not response.is_success:
                raise _MediaProblem(f"failed to download {what}: HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                received += chunk
                if limit is not None and len(received) > limit:
                    break
    except httpx.HTTPError as exc:
        raise _MediaProblem(f"failed to download {what}: {str(exc) or type(exc).__name__}") from exc
    return bytes(received)


def _check_image(data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _MediaProblem(f"image could not be decoded: {exc}") from exc
    if kind not in IMAGE_FORMATS:
        raise _MediaProblem(f"image format {kind} is not supported: use jpg or png")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise _MediaProblem(f"image is {width}x{height} px: each side must be at least {MIN_IMAGE_SIDE} px")
    if not ASPECT_RANGE[0] <= width / height <= ASPECT_RANGE[1]:
        raise _MediaProblem(f"image aspect ratio {width}:{height} is outside 1:2.5 to 2.5:1")


def _check_audio(data: bytes, *, check_container: bool) -> float:
    if check_container:
        try:
            with av.open(io.BytesIO(data), "r") as container:
                container_name = container.format.name
        except av.FFmpegError as exc:
            raise _MediaProblem(f"sound_file could not be decoded: {exc}") from exc
        if container_name not in AUDIO_CONTAINERS:
            raise _MediaProblem(f"sound_file format {container_name} is not supported: use mp3, wav, m4a or aac")
    try:
        seconds = _duration(data)
    except MediaDecodeError as exc:
        raise _MediaProblem(f"sound_file {exc}") from exc
    low, high = AUDIO_SECONDS_RANGE
    if not low <= seconds <= high:
        raise _MediaProblem(f"audio is {seconds:.1f} s long: it must be between {low:g} and {high:g} s")
    return seconds


def _duration(audio: bytes) -> float:
    return len(decode_audio(audio)) / SAMPLE_RATE


def _audio_to_register() -> bytes:
    if not request.is_json:
        if not request.data:
            raise ValueError('send raw audio bytes, or JSON {"seconds": ..., "format": ...}')
        return request.data
    spec = request.get_json(silent=True)
    if not isinstance(spec, dict) or set(spec) - {"seconds", "format"}:
        raise ValueError('the JSON body must be an object with "seconds" and optionally "format"')
    seconds, fmt = spec.get("seconds", 4.0), spec.get("format", "wav")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 600:
        raise ValueError("seconds must be a number in (0, 600]")
    if fmt not in _GENERATED_AUDIO_FORMATS:
        raise ValueError(f"format must be one of: {', '.join(_GENERATED_AUDIO_FORMATS)}")
    return speech_audio(float(seconds), fmt=str(fmt))


def _task_info(task: Task) -> dict[str, str]:
    external_id = task.options.get("external_task_id")
    return {"external_task_id": external_id} if external_id else {}


def _video(state: SimulatorState, task: Task) -> dict[str, str]:
    expired = state.faults.take(NAME, "result", {"expired_url"}) is not None
    url = state.signer.url(request.host_url.rstrip("/"), task.id, expired=expired)
    video = {"id": f"{task.id}-0", "url": url, "duration": f"{task.options.get('duration') or 0:.1f}"}
    if task.options.get("watermark"):
        video["watermark_url"] = f"{url}&watermark=1"
    return video


def _units(task: Task) -> str:
    seconds = float(task.options.get("duration") or 0)
    return f"{math.ceil(seconds) * UNITS_PER_SECOND[str(task.options['mode'])]:g}"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _request_id() -> str:
    return str(uuid.uuid4())


def _success(data: dict[str, Any]) -> Response:
    return jsonify(code=0, message="SUCCEED", request_id=_request_id(), data=data)


def _error(status: int, code: int, message: str) -> Response:
    response = jsonify(code=code, message=message, request_id=_request_id())
    response.status_code = status
    return response
