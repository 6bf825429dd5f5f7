"""Admin API for tests and demos: fault injection, request stats, runtime settings (loopback, no auth)."""

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
        return jsonify(state.stats.snapshot())

    @blueprint.delete("/stats")
    def reset_stats() -> tuple[str, int]:
        state.stats.reset()
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
