"""The template as CloudFormation would deploy it, offline: every resource's physical name and ARN in one stack
of one account, and every property (IAM policies, bucket policies, state machine definitions) with its
intrinsic functions resolved. Names follow CloudFormation's ``<stack>-<LogicalId>-<SUFFIX>`` scheme."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cfn_intrinsics import ACCOUNT_ID, SUB_VARIABLE, Created, Intrinsics, creation_order
from ..cfn_parameters import TemplateError, checked_parameters
from ..template import ExpandedTemplate, expand

REGION = "us-east-1"
STACK_NAME = "avatar-pipeline"
PARTITION = "aws"


@dataclass(frozen=True)
class Deployment:
    template: ExpandedTemplate
    created: dict[str, Created]
    properties: dict[str, dict[str, Any]]
    types: dict[str, str]
    region: str = REGION
    account: str = ACCOUNT_ID

    def of_type(self, resource_type: str) -> list[str]:
        return sorted(logical for logical, kind in self.types.items() if kind == resource_type)

    def physical(self, logical_id: str) -> str:
        return self.created[logical_id].physical_id

    def attribute(self, logical_id: str, name: str) -> str:
        return self.created[logical_id].attributes[name]

    def logical_of(self, physical: str) -> str | None:
        """The logical id whose physical id or any attribute is ``physical``."""
        for logical, created in self.created.items():
            if physical == created.physical_id or physical in created.attributes.values():
                return logical
        return None

    def definition(self, state_machine: str) -> dict[str, Any]:
        """The state machine's ASL with its DefinitionSubstitutions applied."""
        props = self.properties[state_machine]
        text = self.template.local_path(props["DefinitionS3Location"]["Key"]).read_text(encoding="utf-8")
        for name, value in props.get("DefinitionSubstitutions", {}).items():
            text = text.replace("${" + name + "}", str(value))
        leftover = SUB_VARIABLE.search(text)
        if leftover:
            raise TemplateError(f"{state_machine}: ${{{leftover.group(1)}}} has no DefinitionSubstitutions entry")
        parsed: dict[str, Any] = json.loads(text)
        return parsed


def generated_name(stack_name: str, logical_id: str, limit: int) -> str:
    suffix = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
    head = f"{stack_name}-{logical_id}"[: limit - len(suffix) - 1]
    return f"{head}-{suffix}"


def deploy(
    template_path: Path, *, stack_name: str = STACK_NAME, region: str = REGION, parameters: dict[str, str] | None = None
) -> Deployment:
    template = expand(template_path, parameters or {}, region)
    stack_id = f"arn:{PARTITION}:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack_name}/00000000-0000-0000-0000-0"
    intrinsics = Intrinsics(
        parameters=checked_parameters(template.parameters, parameters or {}),
        region=region,
        stack_name=stack_name,
        stack_id=stack_id,
    )
    properties: dict[str, dict[str, Any]] = {}
    for logical_id in creation_order(template.resources):
        resource = template.resources[logical_id]
        props = intrinsics.resolve(resource.get("Properties", {}))
        properties[logical_id] = props
        namer = _Namer(stack_name, region, logical_id, props)
        intrinsics.created[logical_id] = _PHYSICAL.get(resource["Type"], _other)(namer)
    types = {logical: res["Type"] for logical, res in template.resources.items()}
    return Deployment(template, dict(intrinsics.created), properties, types, region)


@dataclass(frozen=True)
class _Namer:
    stack_name: str
    region: str
    logical_id: str
    props: dict[str, Any]

    def name(self, name_property: str, limit: int, *, lower: bool = False) -> str:
        given = self.props.get(name_property)
        if given:
            return str(given)
        name = generated_name(self.stack_name, self.logical_id, limit)
        return name.lower() if lower else name

    def arn(self, service: str, resource: str, *, regional: bool = True, account: bool = True) -> str:
        region = self.region if regional else ""
        owner = ACCOUNT_ID if account else ""
        return f"arn:{PARTITION}:{service}:{region}:{owner}:{resource}"


def _bucket(n: _Namer) -> Created:
    name = n.name("BucketName", 63, lower=True)
    return Created(
        name, {"Arn": n.arn("s3", name, regional=False, account=False), "DomainName": f"{name}.s3.amazonaws.com"}
    )


def _table(n: _Namer) -> Created:
    name = n.name("TableName", 255)
    arn = n.arn("dynamodb", f"table/{name}")
    return Created(name, {"Arn": arn, "StreamArn": f"{arn}/stream/2026-01-01T00:00:00.000"})


def _function(n: _Namer) -> Created:
    name = n.name("FunctionName", 64)
    return Created(name, {"Arn": n.arn("lambda", f"function:{name}")})


def _layer(n: _Namer) -> Created:
    return Created(n.arn("lambda", f"layer:{n.name('LayerName', 64)}:1"))


def _function_url(n: _Namer) -> Created:
    url_id = hashlib.sha256(n.logical_id.encode()).hexdigest()[:32]
    return Created(n.logical_id, {"FunctionUrl": f"https://{url_id}.lambda-url.{n.region}.on.aws/"})


def _state_machine(n: _Namer) -> Created:
    name = n.name("StateMachineName", 80)
    arn = n.arn("states", f"stateMachine:{name}")
    return Created(arn, {"Arn": arn, "Name": name})


def _secret(n: _Namer) -> Created:
    arn = n.arn("secretsmanager", f"secret:{n.name('Name', 256)}-AbCdEf")
    return Created(arn, {"Id": arn})


def _queue(n: _Namer) -> Created:
    name = n.name("QueueName", 80)
    url = f"https://sqs.{n.region}.amazonaws.com/{ACCOUNT_ID}/{name}"
    return Created(url, {"Arn": n.arn("sqs", name), "QueueName": name, "QueueUrl": url})


def _log_group(n: _Namer) -> Created:
    name = n.name("LogGroupName", 512)
    return Created(name, {"Arn": n.arn("logs", f"log-group:{name}:*")})


def _role(n: _Namer) -> Created:
    name = n.name("RoleName", 64)
    return Created(name, {"Arn": n.arn("iam", f"role/{name}", regional=False), "RoleId": f"AROA{n.logical_id.upper()}"})


def _rule(n: _Namer) -> Created:
    name = n.name("Name", 64)
    return Created(name, {"Arn": n.arn("events", f"rule/{name}")})


def _topic(n: _Namer) -> Created:
    name = n.name("TopicName", 256)
    arn = n.arn("sns", name)
    return Created(arn, {"TopicArn": arn, "TopicName": name})


def _other(n: _Namer) -> Created:
    return Created(generated_name(n.stack_name, n.logical_id, 128))


_PHYSICAL: dict[str, Callable[[_Namer], Created]] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::DynamoDB::Table": _table,
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::LayerVersion": _layer,
    "AWS::Lambda::Url": _function_url,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SQS::Queue": _queue,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::IAM::Role": _role,
    "AWS::Events::Rule": _rule,
    "AWS::SNS::Topic": _topic,
}
