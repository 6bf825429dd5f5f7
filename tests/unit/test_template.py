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


def test_only_persist_writes_outputs_and_only_record_outcome_writes_the_table() -> None:
    writers = {
        logical
        for logical in FUNCTIONS
        for statement in _statements(logical)
        if any(a.startswith(("s3:Put", "dynamodb:")) for a in statement["Action"])
    }
    assert writers == {"PersistResultFunction", "RecordOutcomeFunction"}


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
    rules = [r for r in TEMPLATE.resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert len(rules) == 2
    for rule in rules:
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Ref": "AvatarVideoStateMachine"}
        role = TEMPLATE.resources[target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
        statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
        assert [s["Action"] for s in statements] == ["states:StartExecution"]
