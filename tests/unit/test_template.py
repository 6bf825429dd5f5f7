"""The expanded template: private, encrypted, TLS-only buckets and least-privilege roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from avatar_local.template import expand

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = expand(ROOT / "template.yaml", {}, "us-east-1")
FUNCTIONS = {
    logical: resource for logical, resource in TEMPLATE.resources.items() if resource["Type"] == "AWS::Lambda::Function"
}


def _statements(logical: str) -> list[dict[str, Any]]:
    role = TEMPLATE.resources[f"{logical}Role"]["Properties"]
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_no_wildcard_actions_for_functions(logical: str) -> None:
    for statement in _statements(logical):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), (logical, actions)
        assert statement["Resource"] != "*", (logical, statement)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_only_persist_writes_outputs_and_only_record_outcome_writes_the_table() -> None:
    s3_writes = {
        (logical, str(resource))
        for logical in FUNCTIONS
        for statement in _statements(logical)
        if any(a.startswith("s3:Put") for a in _actions(statement))
        for resource in _resources(statement)
    }
    # ValidateMedia stores https inputs it fetched, under fetched/ of the INPUT bucket and nowhere else.
    assert s3_writes == {
        ("PersistResultFunction", str({"Fn::Sub": "${OutputBucket.Arn}/*"})),
        ("ValidateMediaFunction", str({"Fn::Sub": "${InputBucket.Arn}/fetched/*"})),
    }
    table_writers = {
        logical
        for logical in FUNCTIONS
        for statement in _statements(logical)
        if any(a.startswith("dynamodb:") for a in _actions(statement))
    }
    assert table_writers == {"RecordOutcomeFunction"}


def test_only_persist_result_can_touch_the_output_bucket() -> None:
    touching = {
        logical
        for logical in FUNCTIONS
        for statement in _statements(logical)
        if any("OutputBucket" in str(resource) for resource in _resources(statement))
    }
    assert touching == {"PersistResultFunction"}


def test_buckets_are_private_encrypted_and_tls_only() -> None:
    for logical in ("InputBucket", "OutputBucket"):
        props = TEMPLATE.resources[logical]["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        policy = TEMPLATE.resources[f"{logical}Policy"]["Properties"]["PolicyDocument"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Statement"]
        )
    assert TEMPLATE.resources["OutputBucket"]["Properties"]["VersioningConfiguration"]["Status"] == "Enabled"


def test_event_rules_target_only_the_state_machine_with_a_start_only_role() -> None:
    rules = {logical: r for logical, r in TEMPLATE.resources.items() if r["Type"] == "AWS::Events::Rule"}
    to_state_machine = {
        logical
        for logical, rule in rules.items()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Ref": "AvatarVideoStateMachine"}
    }
    # Manifest drops and custom events start the state machine; pair drops go through PairDrop first.
    assert len(to_state_machine) == 2
    assert set(rules) - to_state_machine == {"PairDropFunctionMediaDropped"}
    for logical in to_state_machine:
        (target,) = rules[logical]["Properties"]["Targets"]
        role = TEMPLATE.resources[target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
        statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
        assert [s["Action"] for s in statements] == ["states:StartExecution"]


def test_pair_drop_rule_targets_only_its_function_which_may_only_start_the_state_machine() -> None:
    rule = TEMPLATE.resources["PairDropFunctionMediaDropped"]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["PairDropFunction", "Arn"]}
    assert rule["EventPattern"]["detail"]["object"]["key"] == [{"prefix": "drop/"}]
    starts = [s for s in _statements("PairDropFunction") if any(a.startswith("states:") for a in _actions(s))]
    assert [(_actions(s), s["Resource"]) for s in starts] == [
        (["states:StartExecution"], {"Ref": "AvatarVideoStateMachine"})
    ]
    # It only lists drop/ to find the partner (and to tell an encoded event key from a literal one).
    s3_statements = [s for s in _statements("PairDropFunction") if any(a.startswith("s3:") for a in _actions(s))]
    assert [(_actions(s), s["Resource"], s.get("Condition")) for s in s3_statements] == [
        (["s3:ListBucket"], {"Fn::GetAtt": ["InputBucket", "Arn"]}, {"StringLike": {"s3:prefix": ["drop/*"]}})
    ]
