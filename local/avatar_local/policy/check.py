"""One policy check: the template deployed offline, every request evaluated, and the problems found."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .denies import deny_requests
from .deployment import Deployment, deploy
from .evaluate import Outcome, evaluate
from .inventory import load_inventory
from .principals import principals, wildcard_actions
from .recorded import recorded_requests
from .requests import template_requests
from .static import static_problems
from .unexercised import unexercised


@dataclass(frozen=True)
class CheckResult:
    deployment: Deployment
    outcomes: list[Outcome]
    kinds: list[str]  # recorded, template or deny, per outcome
    problems: list[str]
    unexercised: list[str]


def run_check(template: Path, calls: Path, *, static: bool = True) -> CheckResult:
    deployment = deploy(template)
    callers = principals(deployment)
    requests = {
        "recorded": recorded_requests(deployment, load_inventory(calls)),
        "template": template_requests(deployment),
        "deny": deny_requests(deployment, callers),
    }
    ordered = [request for found in requests.values() for request in found]
    outcomes = evaluate(deployment, callers, ordered)
    problems = [_failure(outcome) for outcome in outcomes if not outcome.passed]
    problems += [
        f"{name}: wildcard action in its role ({found})"
        for name, caller in callers.items()
        if name in deployment.of_type("AWS::Lambda::Function")
        for found in wildcard_actions(caller)
    ]
    if static:
        problems += static_problems(deployment)
    kinds = [kind for kind, found in requests.items() for _ in found]
    return CheckResult(deployment, outcomes, kinds, problems, unexercised(callers, outcomes))


def _failure(outcome: Outcome) -> str:
    request = outcome.request
    expected = "allowed" if request.expect == "Allowed" else "denied"
    return (
        f"{request.principal}: {request.action} on {request.resource} must be {expected}, "
        f"the simulator says {outcome.decision} ({request.why})"
    )
