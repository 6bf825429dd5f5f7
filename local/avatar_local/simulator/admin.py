"""Admin API for tests and demos: fault injection, request stats, runtime settings (loopback, no auth).

``GET /_simulator/stats``: ``submissions`` (each with its task's ``status`` and ``finished_at``),
``result_queries``, ``downloads``, ``callbacks`` and ``callback_counts`` (the latest callback deliveries and their
counters, see callbacks.py), ``providers`` (per account: ``limit``, ``in_flight``, ``peak_in_flight``,
``busy_seconds``, ``refused_limit``, ``refused_ratio``, see accounts.py) and ``renders`` (``rendered``, ``reused``,
see render_cache.py). ``DELETE`` starts them all again, except ``in_flight``, the tasks running now.
"""

from flask import Blueprint, Response, jsonify, request

from .state import SimulatorState


class Admin:
    def __init__(self, state: SimulatorState) -> None:
        self._state = state

    def blueprint(self) -> Blueprint:
        blueprint = Blueprint("admin", __name__, url_prefix="/_simulator")
        blueprint.add_url_rule("/faults", view_func=self.add_fault, methods=["POST"])
        blueprint.add_url_rule("/faults", view_func=self.list_faults, methods=["GET"])
        blueprint.add_url_rule("/faults", view_func=self.clear_faults, methods=["DELETE"])
        blueprint.add_url_rule("/stats", view_func=self.stats, methods=["GET"])
        blueprint.add_url_rule("/stats", view_func=self.reset_stats, methods=["DELETE"])
        blueprint.add_url_rule("/settings", view_func=self.settings, methods=["GET"])
        blueprint.add_url_rule("/settings", view_func=self.update_settings, methods=["POST"])
        return blueprint

    def add_fault(self) -> tuple[Response, int]:
        try:
            fault = self._state.faults.add(_json_object())
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(fault=fault.as_dict()), 201

    def list_faults(self) -> Response:
        return jsonify(faults=self._state.faults.pending())

    def clear_faults(self) -> tuple[str, int]:
        self._state.faults.clear()
        return "", 204

    def stats(self) -> Response:
        state = self._state
        return jsonify(
            {**state.stats.snapshot(), "providers": state.accounts.snapshot(), "renders": state.renders.snapshot()}
        )

    def reset_stats(self) -> tuple[str, int]:
        self._state.stats.reset()
        self._state.accounts.reset()
        self._state.renders.reset()
        return "", 204

    def settings(self) -> Response:
        return jsonify(self._state.settings.as_dict())

    def update_settings(self) -> tuple[Response, int]:
        try:
            self._state.settings.update(_json_object())
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(self._state.settings.as_dict()), 200


def _json_object() -> dict[str, object]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    return body
