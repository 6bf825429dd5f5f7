"""Grants no request needs: each action of an Allow statement in a caller's own role policies that no allowed
request (recorded, implied by the template) matched. Reported, not failed: a grant for a path the end-to-end
tests do not reach is not wrong by itself, but each one is a candidate for removal."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from .evaluate import Outcome
from .principals import Principal


def unexercised(principals: dict[str, Principal], outcomes: list[Outcome]) -> list[str]:
    found: list[str] = []
    for name, caller in sorted(principals.items()):
        needed = [
            (o.request.action.lower(), o.request.resource)
            for o in outcomes
            if o.request.principal == name and o.request.expect == "Allowed" and o.decision == "Allowed"
        ]
        for policy in (p for p in caller.policies if p.inline):
            for statement in _as_list(policy.document.get("Statement", [])):
                if statement.get("Effect") != "Allow":
                    continue
                resources = [str(r) for r in _as_list(statement.get("Resource", []))]
                for action in _as_list(statement.get("Action", [])):
                    if not any(_matches(action, resources, need) for need in needed):
                        label = statement.get("Sid") or policy.name
                        found.append(f"{name}: {label} grants {action} on {', '.join(resources)}")
    return found


def _matches(action: str, resources: list[str], need: tuple[str, str]) -> bool:
    needed_action, needed_resource = need
    return fnmatchcase(needed_action, action.lower()) and any(fnmatchcase(needed_resource, r) for r in resources)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
