"""The recorded call inventory (``policy/calls.json``) as requests against the deployed stack: each placeholder
(``${LogicalId}``, ``${LogicalId.Attribute}``, ``${AWS::AccountId}``, key shapes such as ``{id}``) becomes the
name the deployment gives it, and each call becomes the IAM actions it needs."""

from __future__ import annotations

import json
import re
from typing import Any

from .deployment import Deployment
from .iam_actions import Call, needs
from .requests import Request

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
KEY_SHAPES = {"{id}": "sample-id", "{name}": "sample"}


def recorded_requests(deployment: Deployment, calls: list[dict[str, Any]]) -> list[Request]:
    found: list[Request] = []
    for entry in calls:
        call = Call(
            service=entry["service"],
            operation=entry["operation"],
            resource=_instantiate(deployment, entry.get("resource", {})),
            status=entry.get("status") or "ok",
        )
        why = (
            f"recorded {entry['service']} {entry['operation']} {json.dumps(entry.get('resource', {}), sort_keys=True)}"
        )
        if call.status == "not_found":
            why += " (404)"
        principal, context = entry["principal"], {}
        if deployment.types.get(principal) == "AWS::Events::Rule" and call.service == "lambda":
            # A rule invokes a function as the EventBridge service, allowed by the function's resource policy.
            principal, context = "events.amazonaws.com", {"aws:SourceArn": deployment.attribute(principal, "Arn")}
        for need in needs(call, deployment.region, deployment.account):
            found.append(Request(principal, need.action, need.resource, why, need.context | context))
    return found


def _instantiate(deployment: Deployment, node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _instantiate(deployment, value) for key, value in node.items()}
    if isinstance(node, list):
        return [_instantiate(deployment, item) for item in node]
    if not isinstance(node, str):
        return node
    text = PLACEHOLDER.sub(lambda match: _value(deployment, match.group(1)), node)
    for shape, sample in KEY_SHAPES.items():
        text = text.replace(shape, sample)
    return text.replace("*", "sample") if text.startswith("arn:") else text


def _value(deployment: Deployment, name: str) -> str:
    pseudo = {"AWS::AccountId": deployment.account, "AWS::Region": deployment.region, "AWS::Partition": "aws"}
    if name in pseudo:
        return pseudo[name]
    logical, _, attribute = name.partition(".")
    return deployment.attribute(logical, attribute) if attribute else deployment.physical(logical)
