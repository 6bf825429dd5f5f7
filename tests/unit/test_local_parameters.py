"""The local stack takes template parameters as CloudFormation does: every declared constraint is enforced, and a
refusal names the parameter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from avatar_local.cfn_parameters import TemplateError, checked_parameters, constraint_violation
from avatar_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
DECLARED: dict[str, dict[str, Any]] = load_template(ROOT / "template.yaml")["Parameters"]


def test_the_templates_defaults_meet_every_constraint() -> None:
    values = checked_parameters(DECLARED, {})
    assert set(values) == set(DECLARED)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("JobDeadlineSeconds", "14001", "above MaxValue 14000"),
        ("JobDeadlineSeconds", "59", "below MinValue 60"),
        ("PresignSeconds", "43201", "above MaxValue"),
        ("ProviderTimeoutSeconds", "0", "below MinValue"),
        ("MaxPolls", "many", "not a number"),
        ("LogRetentionDays", "2", "AllowedValues"),
        ("DefaultProvider", "acme/avatar", "AllowedValues"),
        ("ProviderConcurrency", "wavespeed=ten", "AllowedPattern"),
        ("AllowLoopbackEndpoints", "yes", "AllowedValues"),
    ],
)
def test_a_value_outside_the_templates_constraints_is_refused_by_name(name: str, value: str, words: str) -> None:
    with pytest.raises(TemplateError, match=rf"parameter {name}=.*{words}"):
        checked_parameters(DECLARED, {name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("JobDeadlineSeconds", "14000"), ("JobDeadlineSeconds", "60"), ("LogRetentionDays", "7"), ("PollMinSeconds", "0")],
)
def test_the_bounds_themselves_are_allowed(name: str, value: str) -> None:
    assert checked_parameters(DECLARED, {name: value})[name] == value


def test_string_lengths_patterns_and_lists() -> None:
    spec = {"Type": "String", "MinLength": 2, "MaxLength": 4, "AllowedPattern": "[a-z]+"}
    assert constraint_violation(spec, "abc") is None
    assert "shorter than MinLength 2" in str(constraint_violation(spec, "a"))
    assert "longer than MaxLength 4" in str(constraint_violation(spec, "abcde"))
    # CloudFormation matches the pattern against the whole value.
    assert "AllowedPattern" in str(constraint_violation(spec, "ab1"))
    numbers = {"Type": "List<Number>", "MaxValue": 10}
    assert constraint_violation(numbers, "1, 2,10") is None
    assert "above MaxValue 10" in str(constraint_violation(numbers, "1,11"))
    assert "AllowedValues" in str(constraint_violation({"Type": "Number", "AllowedValues": [1, 3]}, "2"))
    assert constraint_violation({"Type": "Number", "AllowedValues": [1, 3]}, "3.0") is None


def test_the_constraint_description_is_shown_with_the_refusal() -> None:
    declared = {"Size": {"Type": "Number", "MaxValue": 5, "ConstraintDescription": "five at most"}}
    with pytest.raises(TemplateError, match=r"parameter Size='6' is above MaxValue 5 \(five at most\)"):
        checked_parameters(declared, {"Size": "6"})


def test_unknown_and_missing_parameters_are_refused() -> None:
    with pytest.raises(TemplateError, match="unknown template parameter"):
        checked_parameters(DECLARED, {"NoSuchParameter": "1"})
    with pytest.raises(TemplateError, match="has no default; pass Needed="):
        checked_parameters({"Needed": {"Type": "String"}}, {})
