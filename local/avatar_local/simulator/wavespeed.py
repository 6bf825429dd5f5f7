"""WaveSpeedAI v3: ``POST /api/v3/{model}``, ``GET /api/v3/predictions/{id}[/result]``, Bearer API key.

A create the account refuses (its concurrency limit, or ``submit_throttle_ratio``; the three models share the
account) answers HTTP 429 ``{"code": 429, "message": "Too Many Requests: concurrency limit reached", "data": null}``.

``POST /api/v3/{model}?webhook=<url>``: when the task ends, the prediction (as ``data`` of the result query) is
POSTed to ``url``, signed with the account's secret, ``GET /api/v3/webhook/secret`` (see callbacks.py). A webhook
URL off this machine is refused with HTTP 400.
"""

import base64
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import Field
from pydantic_core import PydanticCustomError

from .bodies import BadRequest, Media, RequestBody
from .callbacks import Event
from .files import result_url
from .media import loopback_url
from .state import SimulatorState
from .tasks import FINAL_STATUSES, Listener, Task, TaskStatus, ignore

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
        blueprint.add_url_rule("/api/v3/webhook/secret", view_func=self.webhook_secret, methods=["GET"])
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
            on_change = self._notifier(request.args.get("webhook"))
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
                on_change=on_change,
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
        return _success(_prediction(task, outputs=[], base_url=_base_url()))

    def webhook_secret(self) -> Response:
        return _success({"secret": self._state.webhook_secret})

    def result(self, task_id: str) -> Response:
        self._state.stats.count_result_query()
        interrupted = self._interrupt("result")
        if interrupted is not None:
            return interrupted
        task = self._state.tasks.get(task_id)
        if task is None or task.provider != NAME:
            return _error(404, "prediction not found")
        outputs = _outputs(task, lambda: result_url(self._state, NAME, task.id))
        return _success(_prediction(task, outputs=outputs, base_url=_base_url()))

    def _notifier(self, webhook: str | None) -> Listener:
        """What tells ``webhook`` that a task ended; raises BadRequest for a URL the simulator does not call."""
        if webhook is None:
            return ignore
        try:
            url = loopback_url(webhook)
        except PydanticCustomError as exc:
            raise BadRequest(f"webhook {exc.message()}") from None
        state, base_url = self._state, _base_url()

        def notify(task: Task) -> None:
            if task.status not in FINAL_STATUSES:
                return
            outputs = _outputs(task, lambda: state.signer.url(base_url, task.id))
            prediction = _prediction(task, outputs=outputs, base_url=base_url)
            event = Event(NAME, task.id, url, prediction["status"], prediction, True, task.finished_at)
            state.callbacks.send(event)

        return notify

    def _interrupt(self, operation: str) -> Response | None:
        faults = self._state.faults
        return faults.intercept(NAME, operation, _error) or faults.echo(NAME, operation, _error)


def _base_url() -> str:
    return request.host_url.rstrip("/")


def _outputs(task: Task, video_url: Callable[[], str]) -> list[str]:
    if task.video is None:
        return []
    if task.options["enable_base64_output"]:
        return [base64.b64encode(task.video).decode()]
    return [video_url()]


def _prediction(task: Task, *, outputs: list[str], base_url: str) -> dict[str, Any]:
    return {
        "id": task.id,
        "model": task.model,
        "outputs": outputs,
        "urls": {"get": f"{base_url}/api/v3/predictions/{task.id}/result"},
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
