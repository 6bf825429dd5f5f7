"""Delivers EventBridge rule matches to Step Functions and Lambda targets, which moto's EventBridge does not.

moto routes every rule match through ``Rule.send_to_targets``; state machine and function targets are taken
out there and called the way EventBridge calls them, with the whole event (ISO ``time``) as input: a state
machine is started under a generated execution name, a function is invoked asynchronously.
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

from moto.awslambda_simple.models import lambda_simple_backends
from moto.events.models import Rule
from moto.stepfunctions.responses import get_backend

log = logging.getLogger(__name__)
_swap_lock = threading.Lock()


def _is_bridged(target: dict[str, Any]) -> bool:
    arn = str(target["Arn"])
    return (":states:" in arn and ":stateMachine:" in arn) or (":lambda:" in arn and ":function:" in arn)


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if "Input" in target:
        return str(target["Input"])
    event = copy.deepcopy(event)
    s3_object = event.get("detail", {}).get("object") if event.get("source") == "aws.s3" else None
    if isinstance(s3_object, dict) and "eTag" in s3_object:
        s3_object["etag"] = s3_object.pop("eTag")  # moto spells it eTag; EventBridge delivers etag
    if isinstance(event.get("time"), int | float):
        event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(event)


def install_state_machine_targets() -> Callable[[], None]:
    """Patches rule delivery; returns the function that undoes it."""
    original = Rule.send_to_targets

    def send_to_targets(rule: Rule, original_event: Any, transform_input: bool = True) -> None:
        bridged = [target for target in rule.targets if _is_bridged(target)]
        if bridged and rule.event_pattern.matches_event(original_event):
            for target in bridged:
                _deliver(rule, target, original_event)
        others = [target for target in rule.targets if not _is_bridged(target)]
        if not bridged:
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


def _deliver(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    arn = str(target["Arn"])
    _, _, service, region, account, *_ = arn.split(":")
    payload = _target_input(target, event)
    try:
        if service == "states":
            get_backend(account, region).start_execution(arn, name=str(uuid.uuid4()), execution_input=payload)
        else:
            lambda_simple_backends[account][region].invoke(arn, None, payload, {"X-Amz-Invocation-Type": "Event"}, {})
    except Exception:
        log.exception("rule %s could not deliver to %s", rule.name, arn)
