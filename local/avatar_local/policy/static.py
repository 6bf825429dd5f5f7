"""Static checks of the definitions as deployed: each state machine with ``asl-validator`` (npm), each policy
document (role policies, bucket and queue policies) with ``parliament`` (PyPI). A finding is a problem unless
it is suppressed below, with its reason."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from parliament import analyze_policy_string

from . import POLICY_DIR
from .deployment import Deployment

ASL_VALIDATOR = POLICY_DIR / "node_modules/.bin/asl-validator"
SAM_RULE_ROLES = (
    "AvatarVideoStateMachineManifestDroppedRole",
    "AvatarVideoStateMachineVideoRequestedRole",
    "BatchStateMachineBatchDroppedRole",
)
# (resource logical id, parliament issue, the action it names or "") -> why the finding does not apply.
SUPPRESSED: dict[tuple[str, str, str], str] = {
    **{
        (
            role,
            "NO_VERSION",
            "",
        ): "SAM writes the rule role's StartExecution policy without a Version, and offers no way "
        "to add one; the policy uses no policy variables, the only thing the 2008 default version changes"
        for role in SAM_RULE_ROLES
    },
    **{
        (
            role,
            "RESOURCE_MISMATCH",
            "states:DescribeExecution",
        ): "parliament 1.6.4's bundled reference lists only the express resource type "
        "for states:DescribeExecution; the current Service Authorization Reference (iam-data, which the "
        "simulator checks every ARN against) also lists execution, the type a Standard child execution has"
        for role in ("BatchStateMachineRole", "ReconcileFunctionRole")
    },
}


def static_problems(deployment: Deployment) -> list[str]:
    return _asl_problems(deployment) + _policy_problems(deployment)


def _asl_problems(deployment: Deployment) -> list[str]:
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for machine in deployment.of_type("AWS::StepFunctions::StateMachine"):
            path = Path(folder) / f"{machine}.json"
            path.write_text(json.dumps(deployment.definition(machine)), encoding="utf-8")
            completed = subprocess.run(
                [str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False
            )
            if completed.returncode != 0:
                problems.append(f"{machine}: asl-validator: {(completed.stdout + completed.stderr).strip()}")
    return problems


def _policy_problems(deployment: Deployment) -> list[str]:
    problems: list[str] = []
    for logical, name, document in _documents(deployment):
        for finding in analyze_policy_string(json.dumps(document), include_community_auditors=False).findings:
            details = finding.detail if isinstance(finding.detail, list) and finding.detail else [finding.detail]
            for detail in details:
                action = detail.get("action", "") if isinstance(detail, dict) else ""
                if (logical, finding.issue, action) not in SUPPRESSED:
                    problems.append(f"{logical} {name}: parliament {finding.issue}: {detail}")
    return problems


def _documents(deployment: Deployment) -> list[tuple[str, str, dict[str, Any]]]:
    found: list[tuple[str, str, dict[str, Any]]] = []
    for role in deployment.of_type("AWS::IAM::Role"):
        props = deployment.properties[role]
        found += [(role, policy["PolicyName"], policy["PolicyDocument"]) for policy in props.get("Policies", [])]
    for kind in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"):
        found += [
            (logical, "resource policy", deployment.properties[logical]["PolicyDocument"])
            for logical in deployment.of_type(kind)
        ]
    return found
