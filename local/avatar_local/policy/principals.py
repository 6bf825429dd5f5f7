"""Who calls AWS in the deployed stack, and with which policies: each function and state machine through its
execution role, each EventBridge rule through the role of its target; plus the resource policies that apply
(bucket policies, Lambda permissions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .deployment import Deployment

# The two AWS managed policies SAM attaches, as AWS publishes them (AWS Managed Policy Reference Guide, policy
# versions v1 and v4). Any other managed policy ARN is refused until its document is added here.
MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSXrayWriteOnlyAccess",
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": ["*"],
            }
        ],
    },
}


class UnknownPrincipal(ValueError):
    pass


@dataclass(frozen=True)
class NamedPolicy:
    name: str
    document: dict[str, Any]
    inline: bool


@dataclass(frozen=True)
class Principal:
    name: str  # the logical id of the function, state machine or rule that calls
    role: str  # the logical id of its role
    role_arn: str
    policies: tuple[NamedPolicy, ...]


def principals(deployment: Deployment) -> dict[str, Principal]:
    found: dict[str, Principal] = {}
    roles = {deployment.attribute(role, "Arn"): role for role in deployment.of_type("AWS::IAM::Role")}
    callers = [(fn, deployment.properties[fn]["Role"]) for fn in deployment.of_type("AWS::Lambda::Function")]
    callers += [
        (sm, deployment.properties[sm]["RoleArn"]) for sm in deployment.of_type("AWS::StepFunctions::StateMachine")
    ]
    for rule in deployment.of_type("AWS::Events::Rule"):
        callers += [
            (rule, target["RoleArn"])
            for target in deployment.properties[rule].get("Targets", [])
            if "RoleArn" in target
        ]
    for caller, role_arn in callers:
        if role_arn not in roles:
            raise UnknownPrincipal(f"{caller}: its role {role_arn} is not a role of this template")
        found[caller] = Principal(caller, roles[role_arn], role_arn, _policies(deployment, roles[role_arn]))
    return found


def _policies(deployment: Deployment, role: str) -> tuple[NamedPolicy, ...]:
    props = deployment.properties[role]
    policies = [NamedPolicy(p["PolicyName"], p["PolicyDocument"], True) for p in props.get("Policies", [])]
    for arn in props.get("ManagedPolicyArns", []):
        if arn not in MANAGED_POLICIES:
            raise UnknownPrincipal(f"{role}: managed policy {arn} has no known document (add it to MANAGED_POLICIES)")
        policies.append(NamedPolicy(arn.rsplit("/", 1)[-1], MANAGED_POLICIES[arn], False))
    return tuple(policies)


def bucket_policies(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Bucket name -> its bucket policy document."""
    return {
        str(props["Bucket"]): props["PolicyDocument"]
        for logical in deployment.of_type("AWS::S3::BucketPolicy")
        for props in [deployment.properties[logical]]
    }


def function_policies(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Function ARN -> the resource policy its AWS::Lambda::Permission resources add up to."""
    statements: dict[str, list[dict[str, Any]]] = {}
    for logical in deployment.of_type("AWS::Lambda::Permission"):
        props = deployment.properties[logical]
        function = str(props["FunctionName"])
        owner = deployment.logical_of(function)
        if owner is None:
            raise UnknownPrincipal(f"{logical}: function {function} is not a function of this template")
        arn = deployment.attribute(owner, "Arn")
        statement: dict[str, Any] = {
            "Sid": logical,
            "Effect": "Allow",
            "Principal": {"Service": props["Principal"]}
            if props["Principal"].endswith(".amazonaws.com")
            else props["Principal"],
            "Action": props["Action"],
            "Resource": arn,
        }
        conditions: dict[str, dict[str, str]] = {}
        if "SourceArn" in props:
            conditions.setdefault("ArnLike", {})["AWS:SourceArn"] = props["SourceArn"]
        if "SourceAccount" in props:
            conditions.setdefault("StringEquals", {})["AWS:SourceAccount"] = props["SourceAccount"]
        if "FunctionUrlAuthType" in props:
            conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = props["FunctionUrlAuthType"]
        if props.get("InvokedViaFunctionUrl"):
            conditions.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
        if conditions:
            statement["Condition"] = conditions
        statements.setdefault(arn, []).append(statement)
    return {arn: {"Version": "2012-10-17", "Statement": found} for arn, found in statements.items()}


def wildcard_actions(principal: Principal) -> list[str]:
    """``policy: action`` for every action with a wildcard, or NotAction, in the principal's own policies."""
    found: list[str] = []
    for policy in principal.policies:
        if not policy.inline:
            continue
        for statement in _statements(policy.document):
            if "NotAction" in statement:
                found.append(f"{policy.name}: NotAction {statement['NotAction']}")
            actions = statement.get("Action", [])
            for action in [actions] if isinstance(actions, str) else actions:
                if "*" in action or "?" in action:
                    found.append(f"{policy.name}: {action}")
    return found


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)
