"""Rule delivery as EventBridge does it: to Step Functions and Lambda targets, which moto's EventBridge does not
reach, and only from the rules that should fire.

moto routes every rule match through ``Rule.send_to_targets``; state machine and function targets are taken
out there and called the way EventBridge calls them, with the whole event (ISO ``time``) as input: a state
machine is started under a generated execution name, a function is invoked asynchronously. moto also hands every
event on a bus to every rule of that bus, DISABLED ones and schedule-only ones (no pattern: it matches all)
included; here a DISABLED rule gets nothing, a bus event reaches only the rules whose pattern it matches, and a
``Scheduled Event`` reaches only the rule it names (``schedules`` sends those).

Patches moto 5.2.x (checked with 5.2.5), which lacks this: rule delivery has no Step Functions or Lambda target.
``tests/integration/test_moto_upstream.py`` (test_eventbridge_a_rule_does_not_start_a_state_machine) fails once an
upgrade brings it; then this module goes.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from moto.awslambda_simple.models import lambda_simple_backends
from moto.events.models import EventPattern, Rule
from moto.events.utils import EventMessageType
from moto.stepfunctions.responses import get_backend

from .call_recorder import Delivery
from .patching import replace

log = logging.getLogger(__name__)
SCHEDULED_EVENT = "Scheduled Event"


def _is_bridged(target: dict[str, Any]) -> bool:
    arn = str(target["Arn"])
    return (":states:" in arn and ":stateMachine:" in arn) or (":lambda:" in arn and ":function:" in arn)


def _target_input(target: dict[str, Any], event: EventMessageType) -> str:
    if "Input" in target:
        return str(target["Input"])
    event = copy.deepcopy(event)
    s3_object = event.get("detail", {}).get("object") if event.get("source") == "aws.s3" else None
    if isinstance(s3_object, dict) and "eTag" in s3_object:
        s3_object["etag"] = s3_object.pop("eTag")  # moto spells it eTag; EventBridge delivers etag
    stamp = event.get("time")
    if isinstance(stamp, int | float):
        event["time"] = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(event)


def _accepts(rule: Rule, event: EventMessageType) -> bool:
    if rule.state == "DISABLED":
        return False
    if event.get("source") == "aws.events" and event.get("detail-type") == SCHEDULED_EVENT:
        return rule.arn in event.get("resources", [])
    return bool(rule.event_pattern.get_pattern()) and rule.event_pattern.matches_event(event)


class _OtherTargets:
    """The rule as moto's own delivery sees it: only the targets moto reaches, and no pattern left to check."""

    event_pattern = EventPattern(None, {})

    def __init__(self, rule: Rule, targets: list[dict[str, Any]]) -> None:
        self._rule = rule
        self.targets = targets

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rule, name)


def install_state_machine_targets(record: Delivery | None = None) -> Callable[[], None]:
    """Patches rule delivery (each one reported to ``record``, if given); returns the function that undoes it."""
    original = Rule.send_to_targets

    def send_to_targets(rule: Rule, original_event: EventMessageType, transform_input: bool = True) -> None:
        if not _accepts(rule, original_event):
            return
        others = []
        for target in list(rule.targets):
            if _is_bridged(target):
                _deliver(rule, target, original_event, record)
            else:
                others.append(target)
        if others:
            original(cast(Rule, _OtherTargets(rule, others)), original_event, transform_input)

    return replace((Rule, "send_to_targets", send_to_targets))


def _deliver(rule: Rule, target: dict[str, Any], event: EventMessageType, record: Delivery | None) -> None:
    arn = str(target["Arn"])
    _, _, service, region, account, *_ = arn.split(":")
    payload = _target_input(target, event)
    status: int | None = 200 if service == "states" else 202
    try:
        if service == "states":
            get_backend(account, region).start_execution(arn, name=str(uuid.uuid4()), execution_input=payload)
        else:
            lambda_simple_backends[account][region].invoke(arn, None, payload, {"X-Amz-Invocation-Type": "Event"}, {})
    except Exception as error:
        code = getattr(error, "code", None)
        status = code if isinstance(code, int) else None
        log.exception("rule %s could not deliver to %s", rule.name, arn)
    if record is not None:
        if service == "states":
            record(rule.name, "stepfunctions", "StartExecution", {"stateMachineArn": arn}, status)
        else:
            record(rule.name, "lambda", "Invoke", {"FunctionName": arn}, status)
