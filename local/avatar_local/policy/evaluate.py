"""Evaluates requests with the IAM policy simulator (``policy/simulate.mjs`` over ``@cloud-copilot/iam-simulate``):
the caller's role policies, the resource's own policy when it has one, and a realistic request context."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

from . import POLICY_DIR
from .deployment import Deployment
from .principals import Principal, bucket_policies, function_policies
from .requests import Request

SIMULATOR = POLICY_DIR / "simulate.mjs"
SERVICE_PRINCIPAL_SUFFIX = ".amazonaws.com"


@dataclass(frozen=True)
class Outcome:
    request: Request
    decision: str  # Allowed, ImplicitlyDenied, ExplicitlyDenied or "error: …"

    @property
    def passed(self) -> bool:
        if self.decision.startswith("error"):
            return False
        return (self.decision == "Allowed") == (self.request.expect == "Allowed")


def evaluate(deployment: Deployment, principals: dict[str, Principal], requests: list[Request]) -> list[Outcome]:
    resource_policies = {**function_policies(deployment)}
    for bucket, document in bucket_policies(deployment).items():
        resource_policies[f"arn:aws:s3:::{bucket}"] = document
    simulations = [_simulation(deployment, principals, resource_policies, request) for request in requests]
    completed = subprocess.run(
        ["node", str(SIMULATOR)], input=json.dumps(simulations), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the IAM simulator failed: {completed.stderr.strip()}")
    decisions: list[str] = json.loads(completed.stdout)
    return [Outcome(request, decision) for request, decision in zip(requests, decisions, strict=True)]


def _simulation(
    deployment: Deployment,
    principals: dict[str, Principal],
    resource_policies: dict[str, dict[str, Any]],
    request: Request,
) -> dict[str, Any]:
    context: dict[str, Any] = {"aws:SecureTransport": "true", "aws:CurrentTime": "2026-11-29T12:00:00Z"}
    caller = principals.get(request.principal)
    principal: str | None
    identity: list[dict[str, Any]] = []
    if caller is not None:
        principal = caller.role_arn
        identity = [{"name": policy.name, "policy": policy.document} for policy in caller.policies]
        context |= {"aws:PrincipalArn": caller.role_arn, "aws:PrincipalAccount": deployment.account}
    elif request.principal.endswith(SERVICE_PRINCIPAL_SUFFIX):
        principal = request.principal
        context |= {"aws:SourceAccount": deployment.account}
    elif request.principal == "anonymous":
        principal = None
    else:
        raise KeyError(f"{request.principal} is not a principal of this template")
    return {
        "principal": principal,
        "identityPolicies": identity,
        "resourcePolicy": _resource_policy(resource_policies, request.resource),
        "action": request.action,
        "resource": request.resource,
        "account": deployment.account,
        "context": context | request.context,
    }


def _resource_policy(resource_policies: dict[str, dict[str, Any]], resource: str) -> dict[str, Any] | None:
    if resource.startswith("arn:aws:s3:::"):
        return resource_policies.get("arn:aws:s3:::" + resource.removeprefix("arn:aws:s3:::").split("/", 1)[0])
    return resource_policies.get(resource)
