"""Creates the expanded template's resources in the local AWS, resolving intrinsic functions as CloudFormation does."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from .template import ExpandedTemplate

ACCOUNT_ID = "123456789012"
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_NO_VALUE = object()


class TemplateError(Exception):
    pass


@dataclass
class Created:
    physical_id: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Provisioned:
    """What was created, by logical id, with the resolved properties the local runtime needs."""

    resources: dict[str, Created]
    properties: dict[str, dict[str, Any]]
    types: dict[str, str]

    def of_type(self, resource_type: str) -> list[str]:
        return [logical for logical, kind in self.types.items() if kind == resource_type]


class Provisioner:
    def __init__(
        self,
        template: ExpandedTemplate,
        *,
        session: boto3.Session,
        endpoint_url: str,
        stack_name: str,
        parameter_values: dict[str, str],
    ) -> None:
        self.template = template
        self.session = session
        self.endpoint_url = endpoint_url
        self.stack_name = stack_name
        self.region = session.region_name or "us-east-1"
        # Unique per run, as a real stack's id is per deployment: anything derived from it must not outlive the run.
        self.stack_id = f"arn:aws:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{stack_name}/{uuid.uuid4()}"
        self.parameters = self._parameter_values(parameter_values)
        self.created: dict[str, Created] = {}
        self.resolved: dict[str, dict[str, Any]] = {}
        self._handlers: dict[str, Callable[[str, dict[str, Any]], Created]] = {
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::IAM::Role": self._role,
            "AWS::Lambda::LayerVersion": self._layer,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::Permission": self._permission,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Events::Rule": self._rule,
            "AWS::SQS::Queue": self._queue,
            "AWS::SQS::QueuePolicy": self._queue_policy,
        }

    def _client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def _parameter_values(self, overrides: dict[str, str]) -> dict[str, str]:
        unknown = set(overrides) - set(self.template.parameters)
        if unknown:
            raise TemplateError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
        values: dict[str, str] = {}
        for name, spec in self.template.parameters.items():
            if name in overrides:
                value = overrides[name]
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                raise TemplateError(f"template parameter {name} has no default; pass {name}=... as an override")
            allowed = spec.get("AllowedValues")
            if allowed and value not in [str(item) for item in allowed]:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            values[name] = value
        return values

    def provision(self) -> Provisioned:
        for logical_id in self._creation_order():
            resource = self.template.resources[logical_id]
            kind = resource["Type"]
            handler = self._handlers.get(kind)
            if handler is None:
                raise TemplateError(f"{logical_id}: the local stack cannot create {kind} resources yet")
            properties = self._resolve(resource.get("Properties", {}))
            self.resolved[logical_id] = properties
            self.created[logical_id] = handler(logical_id, properties)
        types = {logical: res["Type"] for logical, res in self.template.resources.items()}
        return Provisioned(resources=self.created, properties=self.resolved, types=types)

    # ---- intrinsic functions -------------------------------------------------------------------------

    def _creation_order(self) -> list[str]:
        resources = self.template.resources
        dependencies = {
            logical: {dep for dep in _references(res) | set(_as_list(res.get("DependsOn"))) if dep in resources}
            for logical, res in resources.items()
        }
        order: list[str] = []
        while dependencies:
            ready = sorted(logical for logical, deps in dependencies.items() if not deps - set(order))
            if not ready:
                raise TemplateError(f"circular dependencies among {sorted(dependencies)}")
            order.extend(ready)
            for logical in ready:
                del dependencies[logical]
        return order

    def _pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": _NO_VALUE,
        }.get(name)

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.created:
            return self.created[name].physical_id
        raise TemplateError(f"Ref to unknown or not yet created {name}")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        created = self.created.get(logical_id)
        if created is None or attribute not in created.attributes:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not available locally")
        return created.attributes[attribute]

    def _sub(self, value: str | list[Any]) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], self._resolve(value[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.created:
                return self._get_att(*name.split(".", 1))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self._resolve(i) for i in node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self._ref(value)
            if key == "Fn::GetAtt":
                parts = value if isinstance(value, list) else value.split(".", 1)
                return self._get_att(parts[0], parts[1])
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::Join":
                return value[0].join(str(item) for item in self._resolve(value[1]))
            if key == "Fn::Select":
                return self._resolve(value[1])[int(self._resolve(value[0]))]
            if key == "Fn::Split":
                return str(self._resolve(value[1])).split(value[0])
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local stack")
        resolved = {key: self._resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _name(self, logical_id: str, max_length: int = 64, *, lowercase: bool = False) -> str:
        suffix = hashlib.sha1(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:8]  # noqa: S324 - naming only
        name = f"{self.stack_name}-{logical_id}"[: max_length - 9] + f"-{suffix}"
        return name.lower() if lowercase else name

    # ---- resource handlers ---------------------------------------------------------------------------

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> Created:
        s3 = self._client("s3")
        name = props.get("BucketName") or self._name(logical_id, 63, lowercase=True)
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**kwargs)
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
        if "BucketEncryption" in props:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    "BucketKeyEnabled": rule.get("BucketKeyEnabled", False),
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
        if "LifecycleConfiguration" in props:
            rules = [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        notification = props.get("NotificationConfiguration", {})
        if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        return Created(name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"})

    def _bucket_policy(self, logical_id: str, props: dict[str, Any]) -> Created:
        self._client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
        return Created(f"{props['Bucket']}-policy")

    def _table(self, logical_id: str, props: dict[str, Any]) -> Created:
        name = props.get("TableName") or self._name(logical_id, 255)
        kwargs: dict[str, Any] = {
            key: props[key] for key in ("AttributeDefinitions", "KeySchema", "BillingMode") if key in props
        }
        if "ProvisionedThroughput" in props:
            kwargs["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                kwargs[key] = [_index(index) for index in props[key]]
        if "StreamSpecification" in props:  # enabled, for its StreamArn; nothing reads the stream locally
            view = props["StreamSpecification"]["StreamViewType"]
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        dynamodb = self._client("dynamodb")
        description = dynamodb.create_table(TableName=name, **kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl is not None:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": _flag(ttl["Enabled"])},
            )
        attributes = {"Arn": description["TableArn"]}
        if "LatestStreamArn" in description:
            attributes["StreamArn"] = description["LatestStreamArn"]
        return Created(name, attributes)

    def _secret(self, logical_id: str, props: dict[str, Any]) -> Created:
        kwargs = {"Name": props.get("Name") or self._name(logical_id, 256)}
        if "SecretString" in props:
            kwargs["SecretString"] = props["SecretString"]
        if "Description" in props:
            kwargs["Description"] = props["Description"]
        arn = self._client("secretsmanager").create_secret(**kwargs)["ARN"]
        return Created(arn, {"Id": arn})

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> Created:
        name = props.get("LogGroupName") or self._name(logical_id, 512)
        logs = self._client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        return Created(name, {"Arn": f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{name}:*"})

    def _alarm(self, logical_id: str, props: dict[str, Any]) -> Created:
        name = props.get("AlarmName") or self._name(logical_id, 255)
        kwargs = {key: props[key] for key in props if key != "AlarmName"}
        for key in ("Period", "EvaluationPeriods"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        if "Threshold" in kwargs:
            kwargs["Threshold"] = float(kwargs["Threshold"])
        self._client("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
        return Created(name, {"Arn": f"arn:aws:cloudwatch:{self.region}:{ACCOUNT_ID}:alarm:{name}"})

    def _role(self, logical_id: str, props: dict[str, Any]) -> Created:
        iam = self._client("iam")
        name = props.get("RoleName") or self._name(logical_id, 64)
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))[
            "Role"
        ]["Arn"]
        for policy in props.get("Policies", []):
            # IAM takes a document without Version (SAM's policy templates have none); moto insists on one.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
        for policy_arn in props.get("ManagedPolicyArns", []):
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return Created(name, {"Arn": arn})

    def _layer(self, logical_id: str, props: dict[str, Any]) -> Created:
        source = self.template.local_path(props["Content"]["S3Key"])
        response = self._client("lambda").publish_layer_version(
            LayerName=props.get("LayerName") or self._name(logical_id, 64),
            Content={"ZipFile": _zip_folder(source)},
            CompatibleRuntimes=props.get("CompatibleRuntimes", []),
        )
        return Created(response["LayerVersionArn"], {"LocalPath": str(source)})

    def _function(self, logical_id: str, props: dict[str, Any]) -> Created:
        source = self.template.local_path(props["Code"]["S3Key"])
        name = props.get("FunctionName") or self._name(logical_id, 64)
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": props["Runtime"],
            "Role": props["Role"],
            "Handler": props["Handler"],
            "Code": {"ZipFile": _zip_folder(source)},
            "Timeout": int(props.get("Timeout", 3)),
            "MemorySize": int(props.get("MemorySize", 128)),
            "Environment": {
                "Variables": {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
            },
            "Layers": props.get("Layers", []),
            "Architectures": props.get("Architectures", ["x86_64"]),
        }
        if "TracingConfig" in props:
            kwargs["TracingConfig"] = props["TracingConfig"]
        arn = self._client("lambda").create_function(**kwargs)["FunctionArn"]
        return Created(name, {"Arn": arn, "LocalPath": str(source)})

    def _permission(self, logical_id: str, props: dict[str, Any]) -> Created:
        kwargs = {"FunctionName": props["FunctionName"], "StatementId": logical_id, "Action": props["Action"]}
        kwargs["Principal"] = props["Principal"]
        if "SourceArn" in props:
            kwargs["SourceArn"] = props["SourceArn"]
        self._client("lambda").add_permission(**kwargs)
        return Created(logical_id)

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> Created:
        source = self.template.local_path(props["DefinitionS3Location"]["Key"])
        definition = source.read_text(encoding="utf-8")
        for name, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + name + "}", str(value))
        leftover = _SUB_VARIABLE.search(definition)
        if leftover:
            raise TemplateError(f"{source.name}: ${{{leftover.group(1)}}} has no DefinitionSubstitutions entry")
        json.loads(definition)
        name = props.get("StateMachineName") or self._name(logical_id, 80)
        arn = self._client("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=props["RoleArn"],
            type=props.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        return Created(arn, {"Arn": arn, "Name": name})

    def _rule(self, logical_id: str, props: dict[str, Any]) -> Created:
        events = self._client("events")
        name = props.get("Name") or self._name(logical_id, 64)
        bus = props.get("EventBusName", "default")
        kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED"), "EventBusName": bus}
        if "EventPattern" in props:
            kwargs["EventPattern"] = json.dumps(props["EventPattern"])
        if "ScheduleExpression" in props:
            kwargs["ScheduleExpression"] = props["ScheduleExpression"]
        arn = events.put_rule(**kwargs)["RuleArn"]
        if props.get("Targets"):
            events.put_targets(Rule=name, EventBusName=bus, Targets=props["Targets"])
        return Created(name, {"Arn": arn})

    def _queue(self, logical_id: str, props: dict[str, Any]) -> Created:
        name = props.get("QueueName") or self._name(logical_id, 80)
        sqs = self._client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _queue_policy(self, logical_id: str, props: dict[str, Any]) -> Created:
        sqs = self._client("sqs")
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        return Created(f"{logical_id}-policy")


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text)}
                if isinstance(value, list):
                    found |= _references(value[1])
            else:
                found |= _references(value)
    return found


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _throughput(spec: dict[str, Any]) -> dict[str, int]:
    return {key: int(value) for key, value in spec.items()}


def _index(spec: dict[str, Any]) -> dict[str, Any]:
    """A secondary index as CreateTable takes it (CloudFormation adds ContributorInsightsSpecification)."""
    index: dict[str, Any] = {key: spec[key] for key in ("IndexName", "KeySchema", "Projection") if key in spec}
    if "ProvisionedThroughput" in spec:
        index["ProvisionedThroughput"] = _throughput(spec["ProvisionedThroughput"])
    return index


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "ID": rule.get("Id", "rule"),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    return converted


def _zip_folder(source: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(source).as_posix())
    return buffer.getvalue()
