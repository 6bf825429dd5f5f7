"""Admin API for tests and demos: fault injection, request stats, runtime settings (loopback, no auth).

``GET /_simulator/stats``: ``submissions`` (each with its task's ``status`` and ``finished_at``),
``result_queries``, ``downloads``, ``providers`` (per account: ``limit``, ``in_flight``, ``peak_in_flight``,
``busy_seconds``, ``refused_limit``, ``refused_ratio``, see accounts.py) and ``renders`` (``rendered``, ``reused``,
see render_cache.py). ``DELETE`` starts them all again, except ``in_flight``, the tasks running now.
"""

from flask import Blueprint, Response, jsonify, request

from .state import SimulatorState


def admin_blueprint(state: SimulatorState) -> Blueprint:
    blueprint = Blueprint("admin", __name__, url_prefix="/_simulator")

    @blueprint.post("/faults")
    def add_fault() -> tuple[Response, int]:
        try:
            fault = state.faults.add(_json_object())
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(fault=fault.as_dict()), 201

    @blueprint.get("/faults")
    def list_faults() -> Response:
        return jsonify(faults=state.faults.pending())

    @blueprint.delete("/faults")
    def clear_faults() -> tuple[str, int]:
        state.faults.clear()
        return "", 204

    @blueprint.get("/stats")
    def stats() -> Response:
        return jsonify(
            {**state.stats.snapshot(), "providers": state.accounts.snapshot(), "renders": state.renders.snapshot()}
        )

    @blueprint.delete("/stats")
    def reset_stats() -> tuple[str, int]:
        state.stats.reset()
        state.accounts.reset()
        state.renders.reset()
        return "", 204

    @blueprint.get("/settings")
    def settings() -> Response:
        return jsonify(state.settings.as_dict())

    @blueprint.post("/settings")
    def update_settings() -> tuple[Response, int]:
        try:
            state.settings.update(_json_object())
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(state.settings.as_dict()), 200

    return blueprint


def _json_object() -> dict[str, object]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    return body
