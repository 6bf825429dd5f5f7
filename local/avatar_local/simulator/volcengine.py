"""Volcengine Visual, OmniHuman 1.5: ``POST /?Action=<A>&Version=2022-08-31``, JSON bodies, SignerV4.

Actions:

- ``CVSubmitTask`` with req_key ``jimeng_realman_avatar_picture_omni_v15`` (the video: a task in the shared
  store that downloads the inputs and renders the MP4) or ``jimeng_realman_avatar_picture_create_role_omni_v15``
  (subject recognition: downloads and decodes the image; ``resp_data`` is ``{"status": 1}``, or 0 with the
  ``no_subject`` fault).
- ``CVProcess`` with req_key ``jimeng_realman_avatar_object_detection``: synchronous subject detection; two
  mask PNGs served from signed, expiring URLs, largest first.
- ``CVGetResult``: ``{req_key, task_id, req_json?}``; status ``in_queue`` → ``generating`` → ``done``.

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

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from .bodies import BadRequest
from .faults import Fault
from .files import result_url
from .media import DownloadError, MediaRef, download
from .render import SAMPLE_RATE, MediaDecodeError, decode_audio, decode_image
from .state import SimulatorState
from .tasks import Task
from .volcengine_auth import authenticate
from .volcengine_bodies import ImageBody, ReqJson, ResultBody, VideoBody
from .volcengine_masks import MASK_PATH, Masks
from .volcengine_responses import (
    BAD_PARAMETERS,
    CONCURRENT_LIMIT,
    INVALID_INPUT,
    NAME,
    TASK_FAILED_DEFAULT,
    VERSION,
    business_error,
    gateway_error,
    interrupt,
    invalid_input,
    start_timing,
    success,
)

VIDEO_REQ_KEY = "jimeng_realman_avatar_picture_omni_v15"
SUBJECT_REQ_KEY = "jimeng_realman_avatar_picture_create_role_omni_v15"
DETECTION_REQ_KEY = "jimeng_realman_avatar_object_detection"
ACTIONS = frozenset({"CVSubmitTask", "CVGetResult", "CVProcess"})
MAX_AUDIO_SECONDS = 60.0
_STATUSES = {"queued": "in_queue", "running": "generating"}
_FAILED = "simulated generation failure"

Handler = Callable[[dict[str, Any]], Response]


class Volcengine:
    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._masks = Masks(state)
        self._handlers: dict[tuple[str, str], Handler] = {
            ("CVSubmitTask", VIDEO_REQ_KEY): self.submit_video,
            ("CVSubmitTask", SUBJECT_REQ_KEY): self.submit_subject_check,
            ("CVProcess", DETECTION_REQ_KEY): self.detect,
            ("CVGetResult", VIDEO_REQ_KEY): self.get_result,
            ("CVGetResult", SUBJECT_REQ_KEY): self.get_result,
        }

    def blueprint(self) -> Blueprint:
        blueprint = Blueprint(NAME, __name__)
        blueprint.add_url_rule("/", view_func=self.api, methods=["POST"])
        blueprint.add_url_rule(MASK_PATH, view_func=self._masks.serve, methods=["GET"])
        return blueprint

    def api(self) -> Response:
        """``POST /?Action=<A>&Version=<V>``: the gateway's checks, then the action's handler for the req_key."""
        start_timing()
        state = self._state
        action, version = request.args.get("Action", ""), request.args.get("Version", "")
        refused = authenticate(state.credentials.get(NAME) or {}, action, version)
        if refused is not None:
            return refused
        if action not in ACTIONS or version != VERSION:
            message = f"Could not find operation {action or '(none)'} for version {version or '(none)'}"
            return gateway_error(404, "InvalidActionOrVersion", message, action, version)
        if action == "CVGetResult":
            state.stats.count_result_query()
        interrupted = interrupt(state, "result" if action == "CVGetResult" else "submit", action)
        if interrupted is not None:
            return interrupted
        try:
            body = json.loads(request.get_data(cache=True) or b"null")
        except ValueError:
            return business_error(BAD_PARAMETERS, "request body must be JSON")
        if not isinstance(body, dict):
            return business_error(BAD_PARAMETERS, "request body must be a JSON object")
        req_key = body.get("req_key")
        handler = self._handlers.get((action, req_key)) if isinstance(req_key, str) else None
        try:
            if handler is None:
                raise BadRequest(f"req_key {req_key!r} is not supported by {action}")
            return handler(body)
        except BadRequest as exc:
            return business_error(BAD_PARAMETERS, str(exc))

    def submit_video(self, body: dict[str, Any]) -> Response:
        video = VideoBody.parse(body)
        return self._create(VIDEO_REQ_KEY, video.image_url, video.audio_url)

    def submit_subject_check(self, body: dict[str, Any]) -> Response:
        return self._create(SUBJECT_REQ_KEY, ImageBody.parse(body).image_url, None)

    def detect(self, body: dict[str, Any]) -> Response:
        """CVProcess: synchronous subject detection, two masks (largest first), or none with ``no_subject``."""
        state = self._state
        url = ImageBody.parse(body).image_url
        try:
            image = decode_image(download("image", url, timeout=state.settings.download_timeout_seconds))
        except (DownloadError, MediaDecodeError) as exc:
            return invalid_input(str(exc))
        found = state.faults.take(NAME, "submit", {"no_subject"}) is None
        urls = self._masks.detect(image.size) if found else []
        resp_data = {"code": 0, "status": 1 if urls else 0, "object_detection_result": {"mask": {"url": urls}}}
        return success({"resp_data": json.dumps(resp_data)})

    def get_result(self, body: dict[str, Any]) -> Response:
        query = ResultBody.parse(body)
        tagged = query.req_json is not None and ReqJson.parse_json(query.req_json).tagged
        state = self._state
        fault = state.faults.take(NAME, "result", {"not_found", "expired"})
        if fault is not None:
            return success({"status": fault.kind})
        task = self._task(query.req_key, query.task_id)
        subject = query.req_key == SUBJECT_REQ_KEY
        if task is None:
            return success({"status": "not_found"})
        if task.status in _STATUSES:
            pending = {"resp_data": ""} if subject else {"video_url": "", "aigc_meta_tagged": False}
            return success({"status": _STATUSES[task.status], **pending})
        if task.status == "failed":
            code = task.options.get("fail_code")
            return business_error(code) if isinstance(code, int) else invalid_input(task.error)
        if subject:
            return success({"status": "done", "resp_data": json.dumps({"status": task.options["found"]})})
        url = result_url(state, NAME, task.id)
        return success({"status": "done", "video_url": url, "aigc_meta_tagged": tagged})

    def _probe_audio(self, url: str) -> tuple[MediaRef, float | None]:
        """The audio for the task and its duration; the URL itself (for the task to fail on) if unusable."""
        try:
            audio = download("audio", url, timeout=self._state.settings.download_timeout_seconds)
            return audio, decode_audio(audio).size / SAMPLE_RATE
        except (DownloadError, MediaDecodeError):
            return url, None

    def _create(self, model: str, image_url: str, audio_url: str | None) -> Response:
        """A task of the account: the video if there is audio, else a subject recognition (the image decodes)."""
        state = self._state
        with state.accounts.claim(NAME) as slot:
            if slot is None:
                return business_error(CONCURRENT_LIMIT)
            failure = state.faults.take(NAME, "submit", {"task_failed"})
            fail_code, fail_with = _failure_code(failure), None if failure is None else _FAILED
            audio: MediaRef | None = None
            options: dict[str, Any] = {}
            if audio_url is None:
                options["found"] = 0 if state.faults.take(NAME, "submit", {"no_subject"}) else 1
            else:
                audio, seconds = self._probe_audio(audio_url)
                if failure is None and seconds is not None and seconds >= MAX_AUDIO_SECONDS:
                    fail_code = INVALID_INPUT
                    fail_with = f"audio is {seconds:.1f} s; it must be under {MAX_AUDIO_SECONDS:g} s"
            task = state.tasks.create(
                provider=NAME,
                model=model,
                image=image_url,
                audio=audio,
                options={**options, "fail_code": fail_code},
                slot=slot,
                fail_with=fail_with,
            )
        task_id = str(int(task.id, 16))  # the store's hex id as the decimal digits Volcengine task ids are made of
        state.stats.record_submission(
            provider=NAME,
            model=model,
            task_id=task_id,
            image=image_url,
            audio=audio_url or "",
            received_at=task.created_at,
            progress=lambda: state.tasks.progress(task.id),
        )
        return success({"task_id": task_id})

    def _task(self, req_key: str, task_id: str) -> Task | None:
        if len(task_id) > 39 or not task_id.isdigit() or str(int(task_id)) != task_id or int(task_id) >= 1 << 128:
            return None
        task = self._state.tasks.get(f"{int(task_id):032x}")
        return task if task is not None and task.provider == NAME and task.model == req_key else None


def _failure_code(fault: Fault | None) -> int | None:
    """The business code a ``task_failed`` fault ends its task with (default 50501, Internal RPC Error)."""
    return None if fault is None else fault.code or TASK_FAILED_DEFAULT
