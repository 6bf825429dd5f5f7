"""WaveSpeedAI v3: ``POST /api/v3/{model}``, ``GET /api/v3/predictions/{id}[/result]``, Bearer API key.

A create the account refuses (its concurrency limit, or ``submit_throttle_ratio``; the three models share the
account) answers HTTP 429 ``{"code": 429, "message": "Too Many Requests: concurrency limit reached", "data": null}``.
"""

import base64
import binascii
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .state import Provider, SimulatorState
from .tasks import MediaRef, Task, TaskStatus

NAME = "wavespeed"
_OMNI_HUMAN_FIELDS = frozenset({"image", "audio", "enable_base64_output"})
_MODEL_FIELDS = {
    "bytedance/avatar-omni-human": _OMNI_HUMAN_FIELDS,
    "bytedance/avatar-omni-human-1.5": _OMNI_HUMAN_FIELDS,
    "wavespeed-ai/hunyuan-avatar": _OMNI_HUMAN_FIELDS | {"prompt", "resolution", "seed"},
}
_STATUSES: dict[TaskStatus, str] = {
    "queued": "created",
    "running": "processing",
    "succeeded": "completed",
    "failed": "failed",
}
_MAX_SEED = 2147483647
THROTTLED = "Too Many Requests: concurrency limit reached"


def _blueprint(state: SimulatorState) -> Blueprint:
    blueprint = Blueprint(NAME, __name__)

    @blueprint.before_request
    def authenticate() -> Response | None:
        api_key = state.credentials.get(NAME, {}).get("api_key")
        if not api_key or request.headers.get("Authorization") != f"Bearer {api_key}":
            return _error(401, "Unauthorized: invalid API key")
        return None

    @blueprint.post("/api/v3/<path:model>")
    def submit(model: str) -> Response:
        interrupted = state.faults.intercept(NAME, "submit", _error) or state.faults.echo(NAME, "submit", _error)
        if interrupted is not None:
            return interrupted
        if model not in _MODEL_FIELDS:
            return _error(404, f"model not found: {model}")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        try:
            image, audio, options = _parse_submission(model, body)
        except ValueError as exc:
            return _error(400, str(exc))
        with state.accounts.claim(NAME) as slot:
            if slot is None:
                return _error(429, THROTTLED)
            failure = state.faults.take(NAME, "submit", {"task_failed"})
            task = state.tasks.create(
                provider=NAME,
                model=model,
                image=image,
                audio=audio,
                options=options,
                slot=slot,
                fail_with="simulated generation failure" if failure is not None else None,
            )
        state.stats.record_submission(
            provider=NAME,
            model=model,
            task_id=task.id,
            image=body["image"],
            audio=body["audio"],
            received_at=task.created_at,
            progress=lambda: state.tasks.progress(task.id),
        )
        return _success(_prediction(task, outputs=[]))

    @blueprint.get("/api/v3/predictions/<task_id>/result")
    @blueprint.get("/api/v3/predictions/<task_id>")
    def result(task_id: str) -> Response:
        state.stats.count_result_query()
        interrupted = state.faults.intercept(NAME, "result", _error) or state.faults.echo(NAME, "result", _error)
        if interrupted is not None:
            return interrupted
        task = state.tasks.get(task_id)
        if task is None or task.provider != NAME:
            return _error(404, "prediction not found")
        if task.video is None:
            return _success(_prediction(task, outputs=[]))
        if task.options["enable_base64_output"]:
            return _success(_prediction(task, outputs=[base64.b64encode(task.video).decode()]))
        expired = state.faults.take(NAME, "result", {"expired_url"}) is not None
        url = state.signer.url(_base_url(), task.id, expired=expired)
        return _success(_prediction(task, outputs=[url]))

    return blueprint


PROVIDER = Provider(NAME, _blueprint)


def _parse_submission(model: str, body: dict[str, Any]) -> tuple[MediaRef, MediaRef, dict[str, Any]]:
    """The inputs and the options the responses need; raises ValueError with the API's message."""
    unknown = sorted(set(body) - _MODEL_FIELDS[model])
    if unknown:
        raise ValueError(f"unknown field: {', '.join(unknown)}")
    image, audio = _media("image", body.get("image")), _media("audio", body.get("audio"))
    base64_output = body.get("enable_base64_output", False)
    if not isinstance(base64_output, bool):
        raise ValueError("enable_base64_output must be a boolean")
    if not isinstance(body.get("prompt", ""), str):
        raise ValueError("prompt must be a string")
    if body.get("resolution", "480p") not in ("480p", "720p"):
        raise ValueError("resolution must be one of: 480p, 720p")
    seed = body.get("seed", -1)
    if isinstance(seed, bool) or not isinstance(seed, int) or not -1 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be an integer from -1 to {_MAX_SEED}")
    return image, audio, {"enable_base64_output": base64_output}


def _media(field: str, value: object) -> MediaRef:
    """An http(s) URL to download, or the decoded bytes of raw base64."""
    if value is None or value == "":
        raise ValueError(f"{field} is required")
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    if value.startswith(("http://", "https://")):
        return value
    if value.startswith("data:"):
        raise ValueError(f"{field} must be raw base64, without a data: URI prefix")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{field} must be an http(s) URL or base64-encoded data") from exc


def _prediction(task: Task, *, outputs: list[str]) -> dict[str, Any]:
    return {
        "id": task.id,
        "model": task.model,
        "outputs": outputs,
        "urls": {"get": f"{_base_url()}/api/v3/predictions/{task.id}/result"},
        "has_nsfw_contents": [False] * len(outputs),
        "status": _STATUSES[task.status],
        "created_at": task.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "error": task.error,
        "timings": {"inference": task.inference_ms},
    }


def _base_url() -> str:
    return request.host_url.rstrip("/")


def _success(prediction: dict[str, Any]) -> Response:
    return jsonify(code=200, message="success", data=prediction)


def _error(status: int, message: str) -> Response:
    response = jsonify(code=status, message=message, data=None)
    response.status_code = status
    return response
