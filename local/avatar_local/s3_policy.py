"""Bucket-policy evaluation for the loopback endpoint.

moto evaluates bucket policies without request context, ignores ``Bool`` conditions and treats a statement
whose condition does not hold as a denial even when its effect is ``Deny``: a TLS-only statement denies
every request.
Here conditions are evaluated first, against the loopback request context (the local AWS listens on
127.0.0.1 only, which stands in for TLS): statements whose conditions hold are kept, the others drop out,
and moto evaluates the rest as usual.

Patches moto 5.2.x (checked with 5.2.5), which lacks this: a Deny statement whose condition does not hold still
denies. ``tests/integration/test_moto_upstream.py`` (test_s3_policy_a_tls_only_statement_denies_every_request) fails
once an upgrade brings it; then this module goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.iam.access_control import IAMPolicy
from moto.s3.models import FakeBucket

from .patching import replace

LOOPBACK_CONTEXT = {"aws:SecureTransport": "true"}


def _conditions_hold(conditions: dict[str, dict[str, Any]]) -> bool:
    for operator, tests in conditions.items():
        if operator not in _OPERATORS:
            raise ValueError(f"the local stack cannot evaluate the bucket-policy condition operator {operator}")
        for key, expected in tests.items():
            wanted = [str(value).lower() for value in (expected if isinstance(expected, list) else [expected])]
            if not _OPERATORS[operator](LOOPBACK_CONTEXT.get(key, "").lower(), wanted):
                return False
    return True


_OPERATORS: dict[str, Callable[[str, list[str]], bool]] = {
    "Bool": lambda actual, wanted: actual in wanted,
    "StringEquals": lambda actual, wanted: actual in wanted,
    "StringNotEquals": lambda actual, wanted: actual not in wanted,
}


def effective_policy(document: dict[str, Any]) -> dict[str, Any]:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = [
        {key: value for key, value in statement.items() if key != "Condition"}
        for statement in statements
        if _conditions_hold(statement.get("Condition", {}))
    ]
    return {**document, "Statement": kept}


def install_loopback_transport_context() -> Callable[[], None]:
    original = FakeBucket.get_permission

    def get_permission(bucket: FakeBucket, action: str, resource: str) -> Any:
        if bucket.policy is None:
            return original(bucket, action, resource)
        policy = IAMPolicy(json.dumps(effective_policy(json.loads(bucket.policy))))
        return policy.is_action_permitted(action, resource)

    return replace((FakeBucket, "get_permission", get_permission))
