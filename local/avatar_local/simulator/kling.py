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

``callback_url`` (loopback only; any other URL is refused with 400/1201) receives the task object, as the query
returns it in ``data``, on every status change: ``submitted``, ``processing``, then ``succeed`` or ``failed``;
signed Standard-Webhooks style when ``credentials["kling"]["webhook_secret"]`` is set, unsigned otherwise. A
callback fault affects the final one only (see callbacks.py).
``external_task_id`` is unique per account: the simulator serves one account, whichever auth mode is used.
``watermark_url`` (when ``watermark_info.enabled``) serves the same video as ``url``.

Admin: ``POST /_simulator/kling/audio`` registers a TTS-like audio and returns its ``audio_id``: the body is
either raw audio bytes, or JSON ``{"seconds": 4.0, "format": "wav"|"mp3"|"m4a"}`` to have one generated.
"""

import threading
import uuid

from flask import Blueprint, Response, jsonify, request

from ..samples import speech_audio
from .bodies import BadRequest
from .callbacks import Event
from .files import result_url
from .kling_bodies import AvatarBody, GeneratedAudio
from .kling_media import check_media, duration
from .kling_responses import FAULTS, NAME, authenticate, error, interrupt, success
from .kling_tasks import KlingTasks, task_info
from .media import MediaRef
from .render import MediaDecodeError
from .state import SimulatorState
from .tasks import FINAL_STATUSES, Listener, Task, ignore

TASKS_PATH = "/v1/videos/avatar/image2video"


class Kling:
    """The one account the simulator serves, whichever auth mode is used: its tasks, external ids and audio."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._tasks = KlingTasks()
        self._external_ids: dict[str, str] = {}
        self._audio: dict[str, bytes] = {}

    def blueprint(self) -> Blueprint:
        blueprint = Blueprint(NAME, __name__)
        blueprint.before_request(self.authenticate)
        blueprint.add_url_rule(TASKS_PATH, view_func=self.submit, methods=["POST"])
        blueprint.add_url_rule(f"{TASKS_PATH}/<task_id>", view_func=self.query, methods=["GET"])
        blueprint.add_url_rule("/_simulator/kling/audio", view_func=self.register_audio, methods=["POST"])
        return blueprint

    def authenticate(self) -> Response | None:
        if request.path.startswith("/_simulator/"):
            return None
        return authenticate(self._state.credentials.get(NAME) or {})

    def submit(self) -> Response:
        state = self._state
        interrupted = interrupt(state, "submit")
        if interrupted is not None:
            return interrupted
        raw = request.get_json(silent=True)
        if not isinstance(raw, dict):
            return error(400, 1200, "request body must be a JSON object")
        try:
            body = AvatarBody.parse(raw)
            audio = self._audio_of(body)
            self._check_unused(body.external_task_id)
        except BadRequest as exc:
            return error(400, 1201, str(exc))
        with state.accounts.claim(NAME) as slot:
            if slot is None:
                return error(*FAULTS["concurrency"])
            media = check_media(
                body.image,
                audio,
                registered_audio=body.audio_id is not None,
                timeout=state.settings.download_timeout_seconds,
            )
            failure = state.faults.take(NAME, "submit", {"task_failed"})
            options = {
                "mode": body.mode,
                "watermark": body.watermark_info,
                "external_task_id": body.external_task_id,
                "duration": media.seconds,
            }
            with self._lock:
                external_id = body.external_task_id
                if external_id is not None and external_id in self._external_ids:
                    return error(400, 1201, "external_task_id already exists")
                task = state.tasks.create(
                    provider=NAME,
                    model="avatar",
                    image=media.image,
                    audio=media.audio,
                    options=options,
                    slot=slot,
                    fail_with="simulated generation failure" if failure is not None else media.problem,
                    on_change=self._notifier(body.callback_url),
                )
                created_ms = self._tasks.register(task)
                if external_id is not None:
                    self._external_ids[external_id] = task.id
        state.stats.record_submission(
            provider=NAME,
            model="avatar",
            task_id=task.id,
            image=raw["image"],
            audio=raw["sound_file"] if body.sound_file is not None else f"audio_id:{raw['audio_id']}",
            received_at=task.created_at,
            progress=lambda: state.tasks.progress(task.id),
            extra={"external_task_id": external_id or "", "mode": body.mode},
        )
        data = {
            "task_id": task.id,
            "task_info": task_info(task),
            "task_status": "submitted",
            "created_at": created_ms,
            "updated_at": created_ms,
        }
        return success(data)

    def query(self, task_id: str) -> Response:
        state = self._state
        state.stats.count_result_query()
        interrupted = interrupt(state, "result")
        if interrupted is not None:
            return interrupted
        if task_id in self._tasks:
            resolved: str | None = task_id
        else:
            with self._lock:
                resolved = self._external_ids.get(task_id)
        task = state.tasks.get(resolved) if resolved else None
        if task is None or task.provider != NAME:
            return error(404, 1203, "task not found")
        return success(self._tasks.task_object(task, lambda: result_url(state, NAME, task.id)))

    def register_audio(self) -> tuple[Response, int]:
        """A TTS-like audio for ``audio_id``: raw audio bytes, or JSON ``{"seconds": 4.0, "format": "wav"}``."""
        try:
            audio = _audio_to_register()
            seconds = duration(audio)
        except (ValueError, MediaDecodeError) as exc:
            return jsonify(error=str(exc)), 400
        audio_id = uuid.uuid4().hex
        with self._lock:
            self._audio[audio_id] = audio
        return jsonify(audio_id=audio_id, duration=round(seconds, 3)), 201

    def _audio_of(self, body: AvatarBody) -> MediaRef:
        if body.sound_file is not None:
            return body.sound_file
        with self._lock:
            registered = self._audio.get(str(body.audio_id))
        if registered is None:
            raise BadRequest(f"invalid audio_id: {body.audio_id!r} not found")
        return registered

    def _check_unused(self, external_task_id: str | None) -> None:
        with self._lock:
            if external_task_id is not None and external_task_id in self._external_ids:
                raise BadRequest("external_task_id already exists")

    def _notifier(self, callback_url: str | None) -> Listener:
        """What tells ``callback_url`` each status of a task."""
        if callback_url is None:
            return ignore
        state, base_url = self._state, request.host_url.rstrip("/")

        def notify(task: Task) -> None:
            body = self._tasks.task_object(task, lambda: state.signer.url(base_url, task.id))
            final = task.status in FINAL_STATUSES
            state.callbacks.send(Event(NAME, task.id, callback_url, body["task_status"], body, final, task.finished_at))

        return notify


def _audio_to_register() -> bytes:
    if not request.is_json:
        if not request.data:
            raise ValueError('send raw audio bytes, or JSON {"seconds": ..., "format": ...}')
        return request.data
    spec = GeneratedAudio.parse(request.get_json(silent=True))
    return speech_audio(spec.seconds, fmt=spec.format)
