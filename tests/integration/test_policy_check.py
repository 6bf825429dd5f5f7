"""make policy-check against mutated copies of template.yaml: removing one statement a function or a state
machine relies on, or adding a wildcard action, must fail the check, naming the principal, the action and the
resource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from avatar_local.policy import POLICY_DIR
from avatar_local.policy.check import run_check
from avatar_local.template import load_template

REPO = POLICY_DIR.parent
CALLS = POLICY_DIR / "calls.json"
TEMPLATE = load_template(REPO / "template.yaml")
PRINCIPALS = sorted(
    logical
    for logical, resource in TEMPLATE["Resources"].items()
    if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
    and resource["Properties"].get("Policies")
)


def _statements(template: dict[str, Any], logical: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = template["Resources"][logical]["Properties"]["Policies"][0]["Statement"]
    return statements


def _check_copy(tmp_path: Path, template: dict[str, Any]) -> list[str]:
    for folder in ("functions", "layers", "statemachine"):
        (tmp_path / folder).symlink_to(REPO / folder)
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps(template), encoding="utf-8")  # JSON is YAML, intrinsics in their long form
    return run_check(path, CALLS, static=False).problems


def test_the_template_as_committed_passes() -> None:
    result = run_check(REPO / "template.yaml", CALLS)
    assert result.problems == []
    assert {outcome.request.principal for outcome in result.outcomes} >= set(PRINCIPALS)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_removing_a_statement_the_principal_relies_on_fails_naming_it(tmp_path: Path, principal: str) -> None:
    template = json.loads(json.dumps(TEMPLATE))
    removed = _statements(template, principal).pop(0)
    actions = removed["Action"] if isinstance(removed["Action"], list) else [removed["Action"]]
    problems = _check_copy(tmp_path, template)
    named = [p for p in problems if p.startswith(f"{principal}: ") and any(f" {a} on " in p for a in actions)]
    assert named, f"removing {removed.get('Sid')} from {principal} went unnoticed: {problems}"
    assert all(" on arn:" in p or " on *" in p for p in named)


def test_a_wildcard_action_in_a_function_role_fails(tmp_path: Path) -> None:
    template = json.loads(json.dumps(TEMPLATE))
    _statements(template, "ReportBatchFunction").append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    problems = _check_copy(tmp_path, template)
    assert any(p.startswith("ReportBatchFunction: wildcard action") and "s3:*" in p for p in problems), problems


def test_granting_what_must_be_refused_fails(tmp_path: Path) -> None:
    template = json.loads(json.dumps(TEMPLATE))
    _statements(template, "ValidateMediaFunction").append(
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": {"Fn::Sub": "${OutputBucket.Arn}/*"}}
    )
    problems = _check_copy(tmp_path, template)
    assert any(
        p.startswith("ValidateMediaFunction: s3:PutObject on arn:aws:s3:::") and "must be denied" in p for p in problems
    )
