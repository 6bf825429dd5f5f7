"""Volcengine Visual, OmniHuman 1.5: ``POST /?Action=<A>&Version=2022-08-31``, JSON bodies, SignerV4.

Actions:

- ``CVSubmitTask`` with req_key ``jimeng_realman_avatar_picture_omni_v15`` (the video: a task in the shared
  store that downloads the inputs and renders the MP4) or ``jimeng_realman_avatar_picture_create_role_omni_v15``
  (subject recognition: downloads and decodes the image; ``resp_data`` is ``{"status": 1}``, or 0 with the
  ``no_subject`` fault).
- ``CVProcess`` with req_key ``jimeng_realman_avatar_object_detection``: synchronous subject detection; two
  mask PNGs served from signed, expiring URLs, largest first.
- ``CVGetResult``: ``{req_key, task_id, req_json?}``; status ``in_queue`` → ``generating`` → ``done``.

Envelopes: business ``{code, message, data, request_id, status, time_elapsed}`` (success 10000, ``data``
null otherwise); gateway errors (signature, access key, unknown action) as
``{"ResponseMetadata": {RequestId, Action, Version, Service, Region, Error: {Code, Message}}}``.

Decisions where the documentation is silent:

- An unknown task id (or one of another req_key) answers code 10000 with ``data: {"status": "not_found"}``,
  the documented status for a missing task, rather than an error code.
- A failed video task answers its business code with ``data: null``: 50215 ``Input invalid for this
  service.`` for audio of 60 s or more (checked at submit, the task still fails later, as documented) and for
  inputs that cannot be downloaded or decoded (then the message says why), or the code of a ``task_failed``
  fault (default 50501).
- Bad parameters (unknown fields, wrong types, non-http URLs, an invalid ``req_json``) are business code 50200
  with HTTP 400, the message naming the problem.
- Fault kinds: the common ones (``throttle`` → HTTP 429 / 50429, ``server_error`` → 50500, ``reset``,
  ``slow``), ``concurrency`` (429 / 50430), ``moderation`` (HTTP 400, ``code`` default 50411, any business
  code allowed), ``task_failed`` (``code`` default 50501), ``no_subject`` (subject recognition or detection
  finds nobody), ``not_found`` / ``expired`` (the next CVGetResult reports that status), ``expired_url`` and
  ``echo`` (401 ``SignatureDoesNotMatch`` or 403 ``AccessDenied`` gateway errors, or 400 business code 50200,
  whose message quotes the request's headers and body).
  CVSubmitTask and CVProcess are the ``submit`` operation, CVGetResult is ``result``.
- A CVSubmitTask the account refuses (its concurrency limit, or ``submit_throttle_ratio``; video and subject
  recognition tasks share the account, CVProcess is synchronous and does not count) answers like the
  ``concurrency`` fault: HTTP 429, business code 50430, before any input is downloaded.
"""

import hashlib
import hmac
import io
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from flask import Blueprint, Response, g, jsonify, request
from PIL import Image, ImageDraw

from .accounts import Slot
from .faults import Fault
from .render import SAMPLE_RATE, MediaDecodeError, decode_audio, decode_image
from .state import Provider, SimulatorState
from .stats import Progress
from .tasks import MediaRef, Task, TaskStatus

NAME = "volcengine"
VERSION = "2022-08-31"
REGION = "cn-north-1"
SERVICE = "cv"
VIDEO_REQ_KEY = "jimeng_realman_avatar_picture_omni_v15"
SUBJECT_REQ_KEY = "jimeng_realman_avatar_picture_create_role_omni_v15"
DETECTION_REQ_KEY = "jimeng_realman_avatar_object_detection"
MAX_AUDIO_SECONDS = 60.0
MAX_CLOCK_SKEW = timedelta(minutes=15)
SUCCESS = 10000
BAD_PARAMETERS = 50200
INVALID_INPUT = 50215
CONCURRENT_LIMIT = 50430

MESSAGES = {
    SUCCESS: "Success",
    BAD_PARAMETERS: "Invalid Parameter",
    INVALID_INPUT: "Input invalid for this service.",
    50400: "Access Denied",
    50402: "API Not Found",
    50411: "Pre Img Risk Not Pass",
    50511: "Post Img Risk Not Pass",
    50412: "Text Risk Not Pass",
    50512: "Post Text Risk Not Pass",
    50513: "Pre Video Risk Not Pass",
    50514: "Pre Audio Risk Not Pass",
    50413: "Post Text Risk Not Pass",
    50429: "Request Has Reached API Limit, Please Try Later",
    CONCURRENT_LIMIT: "Request Has Reached API Concurrent Limit, Please Try Later",
    50500: "Internal Error",
    50501: "Internal RPC Error",
}
_HTTP_STATUS = {SUCCESS: 200, 50429: 429, CONCURRENT_LIMIT: 429, 50500: 500, 50501: 500}
_VIDEO_FIELDS = frozenset(
    {"req_key", "image_url", "audio_url", "mask_url", "seed", "prompt", "output_resolution", "pe_fast_mode"}
)
_IMAGE_FIELDS = frozenset({"req_key", "image_url"})
_RESULT_FIELDS = frozenset({"req_key", "task_id", "req_json"})
_AIGC_META_FIELDS = frozenset({"content_producer", "producer_id", "content_propagator", "propagate_id"})
_MAX_SEED = 2147483647
_MAX_MASKS = 5
_STATUSES = {"queued": "in_queue", "running": "generating"}

_AUTHORIZATION = re.compile(
    r"HMAC-SHA256 Credential=(?P<access_key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/request, SignedHeaders=(?P<headers>[a-z0-9-]+(?:;[a-z0-9-]+)*), Signature=(?P<signature>[0-9a-f]{64})"
)
_REQUIRED_SIGNED_HEADERS = ("host", "x-content-sha256", "x-date")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


class BadParameters(ValueError):
    """Business code 50200; the message says what is wrong."""


@dataclass(frozen=True)
class SubjectCheck:
    """A subject recognition task."""

    status: str = "in_queue"
    found: int | None = None
    fail_code: int | None = None
    fail_message: str = ""
    finished_at: datetime | None = None


def _blueprint(state: SimulatorState) -> Blueprint:
    blueprint = Blueprint(NAME, __name__)
    checks = _SubjectChecks(state)
    masks: dict[str, bytes] = {}
    masks_lock = threading.Lock()

    @blueprint.post("/")
    def api() -> Response:
        g.volcengine_started = time.monotonic()
        action, version = request.args.get("Action", ""), request.args.get("Version", "")
        refused = _authenticate(state, action, version)
        if refused is not None:
            return refused
        handler = handlers.get(action)
        if handler is None or version != VERSION:
            message = f"Could not find operation {action or '(none)'} for version {version or '(none)'}"
            return _gateway_error(404, "InvalidActionOrVersion", message, action, version)
        if action == "CVGetResult":
            state.stats.count_result_query()
        operation = "result" if action == "CVGetResult" else "submit"
        interrupted = state.faults.intercept(NAME, operation, _fault_error)
        if interrupted is None:
            interrupted = _coded_fault(state, operation)
        if interrupted is None:
            interrupted = state.faults.echo(NAME, operation, lambda status, message: _echo(status, message, action))
        if interrupted is not None:
            return interrupted
        try:
            body = json.loads(request.get_data(cache=True) or b"null")
        except ValueError:
            return _business_error(BAD_PARAMETERS, "request body must be JSON")
        if not isinstance(body, dict):
            return _business_error(BAD_PARAMETERS, "request body must be a JSON object")
        try:
            return handler(body)
        except BadParameters as exc:
            return _business_error(BAD_PARAMETERS, str(exc))

    def submit_task(body: dict[str, Any]) -> Response:
        req_key = body.get("req_key")
        if req_key == VIDEO_REQ_KEY:
            return submit_video(body)
        if req_key == SUBJECT_REQ_KEY:
            _check_fields(body, _IMAGE_FIELDS)
            image_url = _url(body, "image_url")
            with state.accounts.claim(NAME) as slot:
                if slot is None:
                    return _business_error(CONCURRENT_LIMIT)
                failure = state.faults.take(NAME, "submit", {"task_failed"})
                no_subject = state.faults.take(NAME, "submit", {"no_subject"}) is not None
                task_id = checks.create(image_url, slot, no_subject=no_subject, fail_code=_failure_code(failure))
            _record(state, req_key, task_id, image_url, "", lambda: checks.progress(task_id))
            return _success({"task_id": task_id})
        raise BadParameters(f"req_key {req_key!r} is not supported by CVSubmitTask")

    def submit_video(body: dict[str, Any]) -> Response:
        options = _parse_video(body)
        image_url, audio_url = options.pop("image_url"), options.pop("audio_url")
        with state.accounts.claim(NAME) as slot:
            if slot is None:
                return _business_error(CONCURRENT_LIMIT)
            failure = state.faults.take(NAME, "submit", {"task_failed"})
            audio, seconds = _probe_audio(state, audio_url)
            fail_code, fail_with = None, None
            if failure is not None:
                fail_code, fail_with = _failure_code(failure), "simulated generation failure"
            elif seconds is not None and seconds >= MAX_AUDIO_SECONDS:
                fail_code = INVALID_INPUT
                fail_with = f"audio is {seconds:.1f} s; it must be under {MAX_AUDIO_SECONDS:g} s"
            task = state.tasks.create(
                provider=NAME,
                model=VIDEO_REQ_KEY,
                image=image_url,
                audio=audio,
                options={**options, "fail_code": fail_code},
                slot=slot,
                fail_with=fail_with,
            )
        task_id = _external_id(task.id)
        _record(
            state, VIDEO_REQ_KEY, task_id, image_url, audio_url, lambda: state.tasks.progress(task.id), task.created_at
        )
        return _success({"task_id": task_id})

    def process(body: dict[str, Any]) -> Response:
        if body.get("req_key") != DETECTION_REQ_KEY:
            raise BadParameters(f"req_key {body.get('req_key')!r} is not supported by CVProcess")
        _check_fields(body, _IMAGE_FIELDS)
        image_url = _url(body, "image_url")
        try:
            image = decode_image(_download(state, "image", image_url))
        except (httpx.HTTPError, DownloadFailed, MediaDecodeError) as exc:
            return _business_error(INVALID_INPUT, f"{MESSAGES[INVALID_INPUT]} ({exc})")
        urls: list[str] = []
        if state.faults.take(NAME, "submit", {"no_subject"}) is None:
            detection = secrets.token_hex(8)
            with masks_lock:
                for index, png in enumerate(_mask_pngs(image.size), start=1):
                    masks[f"{detection}-{index}"] = png
                    urls.append(_mask_url(state, f"{detection}-{index}"))
        resp_data = {"code": 0, "status": 1 if urls else 0, "object_detection_result": {"mask": {"url": urls}}}
        return _success({"resp_data": json.dumps(resp_data)})

    def get_result(body: dict[str, Any]) -> Response:
        _check_fields(body, _RESULT_FIELDS)
        req_key, task_id = body.get("req_key"), body.get("task_id")
        if req_key not in (VIDEO_REQ_KEY, SUBJECT_REQ_KEY):
            raise BadParameters(f"req_key {req_key!r} is not supported by CVGetResult")
        if not isinstance(task_id, str) or not task_id:
            raise BadParameters("task_id must be a non-empty string")
        tagged = _aigc_meta_tagged(body.get("req_json"))
        fault = state.faults.take(NAME, "result", {"not_found", "expired"})
        if fault is not None:
            return _success({"status": fault.kind})
        if req_key == SUBJECT_REQ_KEY:
            return subject_result(task_id)
        task = _task(state, task_id)
        if task is None:
            return _success({"status": "not_found"})
        if task.status in _STATUSES:
            return _success({"status": _STATUSES[task.status], "video_url": "", "aigc_meta_tagged": False})
        if task.status == "failed":
            code = task.options.get("fail_code")
            if isinstance(code, int):
                return _business_error(code)
            return _business_error(INVALID_INPUT, f"{MESSAGES[INVALID_INPUT]} ({task.error})")
        expired = state.faults.take(NAME, "result", {"expired_url"}) is not None
        url = state.signer.url(_base_url(), task.id, expired=expired)
        return _success({"status": "done", "video_url": url, "aigc_meta_tagged": tagged})

    def subject_result(task_id: str) -> Response:
        check = checks.get(task_id)
        if check is None:
            return _success({"status": "not_found"})
        if check.status != "done":
            return _success({"status": check.status, "resp_data": ""})
        if check.fail_code is not None:
            return _business_error(check.fail_code, check.fail_message or None)
        return _success({"status": "done", "resp_data": json.dumps({"status": check.found})})

    @blueprint.get("/_simulator/volcengine/masks/<mask_id>.png")
    def mask(mask_id: str) -> Response:
        expires = request.args.get("expires", "")
        if not state.signer.verify(f"mask-{mask_id}", expires, request.args.get("signature", "")):
            return _s3_error(403, "SignatureDoesNotMatch", "The request signature does not match.")
        if int(expires) <= time.time():
            return _s3_error(403, "AccessDenied", "Request has expired")
        with masks_lock:
            png = masks.get(mask_id)
        if png is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return Response(png, mimetype="image/png")

    handlers: dict[str, Callable[[dict[str, Any]], Response]] = {
        "CVSubmitTask": submit_task,
        "CVGetResult": get_result,
        "CVProcess": process,
    }
    return blueprint


PROVIDER = Provider(NAME, _blueprint)


# --- SignerV4 verification (independent of the pipeline's signer) -------------------------------------


def _authenticate(state: SimulatorState, action: str, version: str) -> Response | None:
    """Recompute the signature from the request as received; the gateway error to answer, or None."""

    def refuse(status: int, code: str, message: str) -> Response:
        return _gateway_error(status, code, message, action, version)

    authorization = request.headers.get("Authorization")
    if not authorization:
        return refuse(401, "MissingAuthenticationToken", "Request is missing Authentication Token")
    match = _AUTHORIZATION.fullmatch(authorization.strip())
    if match is None:
        return refuse(400, "InvalidAuthorization", "The Authorization header is malformed")
    credentials = state.credentials.get(NAME) or {}
    access_key, secret_key = credentials.get("access_key_id"), credentials.get("secret_access_key")
    if not access_key or not secret_key or not hmac.compare_digest(match["access_key"], str(access_key)):
        return refuse(401, "InvalidAccessKey", "The access key is invalid or disabled")
    if (match["region"], match["service"]) != (REGION, SERVICE):
        scope = f"{match['date']}/{REGION}/{SERVICE}/request"
        return refuse(401, "SignatureDoesNotMatch", f"The credential scope must be {scope}")
    x_date = request.headers.get("X-Date", "")
    try:
        signed_at = datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return refuse(400, "InvalidTimestamp", "X-Date must be a UTC time as YYYYMMDDTHHMMSSZ")
    if abs(datetime.now(UTC) - signed_at) > MAX_CLOCK_SKEW:
        return refuse(400, "InvalidTimestamp", "X-Date is more than 15 minutes away from the server's time")
    if match["date"] != x_date[:8]:
        return refuse(401, "SignatureDoesNotMatch", "The credential date does not match X-Date")
    names = match["headers"].split(";")
    missing = [name for name in _REQUIRED_SIGNED_HEADERS if name not in names]
    if missing:
        return refuse(401, "SignatureDoesNotMatch", f"SignedHeaders must include {', '.join(missing)}")
    body = request.get_data(cache=True)
    if request.headers.get("X-Content-Sha256", "") != hashlib.sha256(body).hexdigest():
        return refuse(401, "SignatureDoesNotMatch", "X-Content-Sha256 does not match the request body")
    canonical = _canonical_request(names, hashlib.sha256(body).hexdigest())
    if canonical is None:
        return refuse(401, "SignatureDoesNotMatch", "A signed header is missing from the request")
    scope = f"{match['date']}/{REGION}/{SERVICE}/request"
    to_sign = f"HMAC-SHA256\n{x_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = str(secret_key).encode()
    for part in (match["date"], REGION, SERVICE, "request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        return refuse(401, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    return None


def _canonical_request(signed_names: list[str], body_sha256: str) -> str | None:
    lines = [request.method, _encode(request.path, keep=b"/")]
    args = request.args
    lines.append("&".join(f"{_encode(key)}={_encode(value)}" for key in sorted(args) for value in args.getlist(key)))
    header_lines = []
    for name in signed_names:
        value = request.headers.get(name)
        if value is None:
            return None
        if name == "host":
            host, _, port = value.partition(":")
            value = host if port in ("80", "443") else value
        header_lines.append(f"{name}:{value}\n")
    lines += ["".join(header_lines), ";".join(signed_names), body_sha256]
    return "\n".join(lines)


def _encode(text: str, keep: bytes = b"") -> str:
    """RFC 3986 percent-encoding of UTF-8: only unreserved characters (and ``keep``) stay."""
    return "".join(chr(byte) if byte in _UNRESERVED or byte in keep else f"%{byte:02X}" for byte in text.encode())


# --- request checks ---------------------------------------------------------------------------------


def _check_fields(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadParameters(f"unknown field: {', '.join(unknown)}")


def _url(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None or value == "":
        raise BadParameters(f"{field} is required")
    if not isinstance(value, str):
        raise BadParameters(f"{field} must be a string")
    if not value.startswith(("http://", "https://")):
        raise BadParameters(f"{field} must be an http(s) URL")
    return value


def _parse_video(body: dict[str, Any]) -> dict[str, Any]:
    _check_fields(body, _VIDEO_FIELDS)
    parsed: dict[str, Any] = {"image_url": _url(body, "image_url"), "audio_url": _url(body, "audio_url")}
    if "mask_url" in body:
        masks = body["mask_url"]
        if not isinstance(masks, list) or not 1 <= len(masks) <= _MAX_MASKS:
            raise BadParameters(f"mask_url must be a list of 1 to {_MAX_MASKS} URLs")
        parsed["mask_url"] = [_url({"mask_url": url}, "mask_url") for url in masks]
    seed = body.get("seed", -1)
    if isinstance(seed, bool) or not isinstance(seed, int) or not -1 <= seed <= _MAX_SEED:
        raise BadParameters(f"seed must be an integer from -1 to {_MAX_SEED}")
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        raise BadParameters("prompt must be a string")
    resolution = body.get("output_resolution", 1080)
    if isinstance(resolution, bool) or resolution not in (720, 1080):
        raise BadParameters("output_resolution must be 720 or 1080")
    fast = body.get("pe_fast_mode", False)
    if not isinstance(fast, bool):
        raise BadParameters("pe_fast_mode must be a boolean")
    return parsed | {"seed": seed, "prompt": prompt, "output_resolution": resolution, "pe_fast_mode": fast}


def _aigc_meta_tagged(req_json: object) -> bool:
    """Whether the video gets the implicit AIGC label: a valid ``req_json`` with the required fields."""
    if req_json is None:
        return False
    if not isinstance(req_json, str):
        raise BadParameters("req_json must be a JSON string")
    try:
        config = json.loads(req_json)
    except ValueError as exc:
        raise BadParameters(f"req_json is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise BadParameters("req_json must encode a JSON object")
    _check_fields(config, frozenset({"aigc_meta"}))
    meta = config.get("aigc_meta")
    if meta is None:
        return False
    if not isinstance(meta, dict):
        raise BadParameters("req_json.aigc_meta must be an object")
    _check_fields(meta, _AIGC_META_FIELDS)
    for field, value in meta.items():
        if not isinstance(value, str) or len(value) > 256:
            raise BadParameters(f"req_json.aigc_meta.{field} must be a string of at most 256 characters")
    return bool(meta.get("producer_id")) and bool(meta.get("content_propagator"))


# --- tasks, media, masks ----------------------------------------------------------------------------


class DownloadFailed(Exception):
    pass


def _download(state: SimulatorState, what: str, url: str) -> bytes:
    # trust_env=False: inputs are normally on loopback, which an environment proxy must not intercept.
    response = httpx.get(url, timeout=state.settings.download_timeout_seconds, follow_redirects=True, trust_env=False)
    if not response.is_success:
        raise DownloadFailed(f"failed to download {what}: HTTP {response.status_code}")
    return response.content


def _probe_audio(state: SimulatorState, url: str) -> tuple[MediaRef, float | None]:
    """The audio for the task and its duration; the URL itself (for the task to fail on) if unusable."""
    try:
        audio = _download(state, "audio", url)
        return audio, decode_audio(audio).size / SAMPLE_RATE
    except (httpx.HTTPError, DownloadFailed, MediaDecodeError):
        return url, None


def _external_id(task_id: str) -> str:
    """The store's hex id as the decimal digits Volcengine task ids are made of."""
    return str(int(task_id, 16))


def _task(state: SimulatorState, task_id: str) -> Task | None:
    if len(task_id) > 39 or not task_id.isdigit() or str(int(task_id)) != task_id or int(task_id) >= 1 << 128:
        return None
    task = state.tasks.get(f"{int(task_id):032x}")
    return task if task is not None and task.provider == NAME and task.model == VIDEO_REQ_KEY else None


def _failure_code(fault: Fault | None) -> int | None:
    """The business code a ``task_failed`` fault ends its task with (default 50501, Internal RPC Error)."""
    if fault is None:
        return None
    return fault.code or 50501


def _record(
    state: SimulatorState,
    req_key: str,
    task_id: str,
    image: str,
    audio: str,
    progress: Progress,
    at: datetime | None = None,
) -> None:
    state.stats.record_submission(
        provider=NAME,
        model=req_key,
        task_id=task_id,
        image=image,
        audio=audio,
        received_at=at or datetime.now(UTC),
        progress=progress,
    )


class _SubjectChecks:
    """Subject recognition tasks: download and decode the image, finish after the provider's task seconds."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._checks: dict[str, SubjectCheck] = {}
        self._lock = threading.Lock()

    def create(self, image_url: str, slot: Slot, *, no_subject: bool, fail_code: int | None) -> str:
        task_id = str(10**18 + secrets.randbelow(9 * 10**18))
        with self._lock:
            self._checks[task_id] = SubjectCheck()
        slot.start()
        worker = threading.Thread(
            target=self._process,
            args=(task_id, image_url, time.monotonic(), slot, no_subject, fail_code),
            name=f"simulator-subject-{task_id[-8:]}",
            daemon=True,
        )
        worker.start()
        return task_id

    def get(self, task_id: str) -> SubjectCheck | None:
        with self._lock:
            return self._checks.get(task_id)

    def progress(self, task_id: str) -> tuple[TaskStatus, datetime | None]:
        with self._lock:
            check = self._checks[task_id]
        if check.status != "done":
            return ("queued" if check.status == "in_queue" else "running"), None
        return ("succeeded" if check.fail_code is None else "failed"), check.finished_at

    def _process(
        self, task_id: str, image_url: str, created: float, slot: Slot, no_subject: bool, fail_code: int | None
    ) -> None:
        self._update(task_id, status="generating")
        outcome: dict[str, Any] = {"found": 0 if no_subject else 1, "fail_code": fail_code}
        if fail_code is None:
            try:
                decode_image(_download(self._state, "image", image_url))
            except (httpx.HTTPError, DownloadFailed, MediaDecodeError) as exc:
                outcome = {"fail_code": INVALID_INPUT, "fail_message": f"{MESSAGES[INVALID_INPUT]} ({exc})"}
        time.sleep(max(0.0, created + self._state.settings.task_seconds_for(NAME) - time.monotonic()))
        slot.release()
        self._update(task_id, status="done", finished_at=datetime.now(UTC), **outcome)

    def _update(self, task_id: str, **changes: Any) -> None:
        with self._lock:
            self._checks[task_id] = replace(self._checks[task_id], **changes)


def _mask_pngs(size: tuple[int, int]) -> list[bytes]:
    """Two subject masks (white on black), the larger first, as detection orders them."""
    scale = min(1.0, 512 / max(size))
    width, height = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    boxes = [
        (width * 0.2, height * 0.1, width * 0.8, height),
        (width * 0.02, height * 0.6, width * 0.22, height * 0.95),
    ]
    pngs = []
    for box in boxes:
        mask = Image.new("L", (width, height), 0)
        ImageDraw.Draw(mask).ellipse(box, fill=255)
        buffer = io.BytesIO()
        mask.save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return pngs


def _mask_url(state: SimulatorState, mask_id: str) -> str:
    """Signed and expiring like result files (the signer's query, on the mask's own path)."""
    query = urlsplit(state.signer.url("", f"mask-{mask_id}")).query
    return f"{_base_url()}/_simulator/volcengine/masks/{mask_id}.png?{query}"


# --- responses --------------------------------------------------------------------------------------


def _request_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d%H%M%S}{secrets.token_hex(10).upper()}"


def _elapsed() -> str:
    started = getattr(g, "volcengine_started", time.monotonic())
    return f"{(time.monotonic() - started) * 1000:.6f}ms"


def _success(data: dict[str, Any]) -> Response:
    return _envelope(SUCCESS, MESSAGES[SUCCESS], data)


def _business_error(code: int, message: str | None = None, *, http_status: int | None = None) -> Response:
    text = message if message is not None else MESSAGES.get(code, "Simulated error")
    if code == BAD_PARAMETERS and message is not None:
        text = f"{MESSAGES[BAD_PARAMETERS]}: {message}"
    return _envelope(code, text, None, http_status or _HTTP_STATUS.get(code, 400))


def _envelope(code: int, message: str, data: dict[str, Any] | None, http_status: int = 200) -> Response:
    response = jsonify(
        code=code, message=message, data=data, request_id=_request_id(), status=code, time_elapsed=_elapsed()
    )
    response.status_code = http_status
    return response


def _gateway_error(status: int, code: str, message: str, action: str, version: str) -> Response:
    metadata = {
        "RequestId": _request_id(),
        "Action": action,
        "Version": version,
        "Service": SERVICE,
        "Region": REGION,
        "Error": {"Code": code, "Message": message},
    }
    response = jsonify(ResponseMetadata=metadata)
    response.status_code = status
    return response


def _fault_error(status: int, message: str) -> Response:
    """Request-level faults as Volcengine answers them: 429 → 50429, 5xx → 50500 (with that HTTP status)."""
    if status == 429:
        return _business_error(50429)
    return _business_error(50500, http_status=status)


def _echo(status: int, message: str, action: str) -> Response:
    """The ``echo`` fault: refused by the gateway (401, 403) or as bad parameters (400), quoting the request."""
    if status == 400:
        return _business_error(BAD_PARAMETERS, message)
    code = "SignatureDoesNotMatch" if status == 401 else "AccessDenied"
    return _gateway_error(status, code, message, action, VERSION)


def _coded_fault(state: SimulatorState, operation: str) -> Response | None:
    fault = state.faults.take(NAME, operation, {"concurrency", "moderation"})
    if fault is None:
        return None
    if fault.kind == "concurrency":
        return _business_error(CONCURRENT_LIMIT)
    return _business_error(fault.code or 50411)


def _s3_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status=status, mimetype="application/xml")


def _base_url() -> str:
    return request.host_url.rstrip("/")
