"""WaveSpeedAI v3: ``POST /api/v3/{model}``, ``GET /api/v3/predictions/{id}[/result]``, Bearer API key.

A create the account refuses (its concurrency limit, or ``submit_throttle_ratio``; the three models share the
account) answers HTTP 429 ``{"code": 429, "message": "Too Many Requests: concurrency limit reached", "data": null}``.
"""

import base64
from typing import Any, ClassVar, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from .bodies import BadRequest, Media, RequestBody
from .files import result_url
from .state import SimulatorState
from .tasks import Task, TaskStatus

NAME = "wavespeed"
MAX_SEED = 2147483647
THROTTLED = "Too Many Requests: concurrency limit reached"
_STATUSES: dict[TaskStatus, str] = {
    "queued": "created",
    "running": "processing",
    "succeeded": "completed",
    "failed": "failed",
}


class OmniHumanBody(RequestBody):
    image: Media
    audio: Media
    enable_base64_output: bool = False


class HunyuanBody(OmniHumanBody):
    problems: ClassVar = {
        "resolution": "resolution must be one of: 480p, 720p",
        "seed": f"seed must be an integer from -1 to {MAX_SEED}",
    }

    prompt: str = ""
    resolution: Literal["480p", "720p"] = "480p"
    seed: int = Field(-1, ge=-1, le=MAX_SEED)


MODELS: dict[str, type[OmniHumanBody]] = {
    "bytedance/avatar-omni-human": OmniHumanBody,
    "bytedance/avatar-omni-human-1.5": OmniHumanBody,
    "wavespeed-ai/hunyuan-avatar": HunyuanBody,
}


class WaveSpeed:
    def __init__(self, state: SimulatorState) -> None:
        self._state = state

    def blueprint(self) -> Blueprint:
        blueprint = Blueprint(NAME, __name__)
        blueprint.before_request(self.authenticate)
        blueprint.add_url_rule("/api/v3/<path:model>", view_func=self.submit, methods=["POST"])
        for path in ("/api/v3/predictions/<task_id>/result", "/api/v3/predictions/<task_id>"):
            blueprint.add_url_rule(path, view_func=self.result, methods=["GET"])
        return blueprint

    def authenticate(self) -> Response | None:
        api_key = self._state.credentials.get(NAME, {}).get("api_key")
        if not api_key or request.headers.get("Authorization") != f"Bearer {api_key}":
            return _error(401, "Unauthorized: invalid API key")
        return None

    def submit(self, model: str) -> Response:
        state = self._state
        interrupted = self._interrupt("submit")
        if interrupted is not None:
            return interrupted
        if model not in MODELS:
            return _error(404, f"model not found: {model}")
        raw = request.get_json(silent=True)
        if not isinstance(raw, dict):
            return _error(400, "request body must be a JSON object")
        try:
            body = MODELS[model].parse(raw)
        except BadRequest as exc:
            return _error(400, str(exc))
        with state.accounts.claim(NAME) as slot:
            if slot is None:
                return _error(429, THROTTLED)
            failure = state.faults.take(NAME, "submit", {"task_failed"})
            task = state.tasks.create(
                provider=NAME,
                model=model,
                image=body.image,
                audio=body.audio,
                options={"enable_base64_output": body.enable_base64_output},
                slot=slot,
                fail_with="simulated generation failure" if failure is not None else None,
            )
        state.stats.record_submission(
            provider=NAME,
            model=model,
            task_id=task.id,
            image=raw["image"],
            audio=raw["audio"],
            received_at=task.created_at,
            progress=lambda: state.tasks.progress(task.id),
        )
        return _success(_prediction(task, outputs=[]))

    def result(self, task_id: str) -> Response:
        self._state.stats.count_result_query()
        interrupted = self._interrupt("result")
        if interrupted is not None:
            return interrupted
        task = self._state.tasks.get(task_id)
        if task is None or task.provider != NAME:
            return _error(404, "prediction not found")
        if task.video is None:
            return _success(_prediction(task, outputs=[]))
        if task.options["enable_base64_output"]:
            return _success(_prediction(task, outputs=[base64.b64encode(task.video).decode()]))
        return _success(_prediction(task, outputs=[result_url(self._state, NAME, task.id)]))

    def _interrupt(self, operation: str) -> Response | None:
        faults = self._state.faults
        return faults.intercept(NAME, operation, _error) or faults.echo(NAME, operation, _error)


def _prediction(task: Task, *, outputs: list[str]) -> dict[str, Any]:
    return {
        "id": task.id,
        "model": task.model,
        "outputs": outputs,
        "urls": {"get": f"{request.host_url.rstrip('/')}/api/v3/predictions/{task.id}/result"},
        "has_nsfw_contents": [False] * len(outputs),
        "status": _STATUSES[task.status],
        "created_at": task.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "error": task.error,
        "timings": {"inference": task.inference_ms},
    }


def _success(prediction: dict[str, Any]) -> Response:
    return jsonify(code=200, message="success", data=prediction)


def _error(status: int, message: str) -> Response:
    response = jsonify(code=status, message=message, data=None)
    response.status_code = status
    return response
