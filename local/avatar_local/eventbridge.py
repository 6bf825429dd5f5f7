"""Delivers EventBridge rule matches to Step Functions targets, which moto's EventBridge does not do.

moto routes every rule match through ``Rule.send_to_targets``; state machine targets are taken out there and
started the way EventBridge starts them: the whole event (ISO ``time``) as input, a generated execution name.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.events.models import Rule
from moto.stepfunctions.responses import get_backend

log = logging.getLogger(__name__)
_swap_lock = threading.Lock()


def _is_state_machine(target: dict[str, Any]) -> bool:
    return ":states:" in target["Arn"] and ":stateMachine:" in target["Arn"]


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if "Input" in target:
        return str(target["Input"])
    event = copy.deepcopy(event)
    if isinstance(event.get("time"), int | float):
        event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(event)


def install_state_machine_targets() -> Callable[[], None]:
    """Patches rule delivery; returns the function that undoes it."""
    original = Rule.send_to_targets

    def send_to_targets(rule: Rule, original_event: Any, transform_input: bool = True) -> None:
        machines = [target for target in rule.targets if _is_state_machine(target)]
        if machines and rule.event_pattern.matches_event(original_event):
            for target in machines:
                _start(rule, target, original_event)
        others = [target for target in rule.targets if not _is_state_machine(target)]
        if not machines:
            original(rule, original_event, transform_input)
        elif others:
            with _swap_lock:
                saved, rule.targets = rule.targets, others
                try:
                    original(rule, original_event, transform_input)
                finally:
                    rule.targets = saved

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]

    def uninstall() -> None:
        Rule.send_to_targets = original  # type: ignore[method-assign]

    return uninstall


def _start(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    arn = target["Arn"]
    _, _, _, region, account, *_ = arn.split(":")
    try:
        get_backend(account, region).start_execution(
            arn, name=str(uuid.uuid4()), execution_input=_target_input(target, event)
        )
    except Exception:
        log.exception("rule %s could not start %s", rule.name, arn)
