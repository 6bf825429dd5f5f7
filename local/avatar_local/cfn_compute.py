"""Creates the expanded template's roles, layers, functions, permissions, state machines and rules in the local
AWS; a function's and a layer's code is zipped from its folder in the repository."""

from __future__ import annotations

import json
from typing import Any

from .cfn_intrinsics import SUB_VARIABLE, Created
from .cfn_parameters import TemplateError
from .cfn_target import Target, zip_folder
from .function_urls import FunctionUrlServer


def role(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    iam = target.client("iam")
    name = props.get("RoleName") or target.name(logical_id, 64)
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


def layer(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    source = target.template.local_path(props["Content"]["S3Key"])
    response = target.client("lambda").publish_layer_version(
        LayerName=props.get("LayerName") or target.name(logical_id, 64),
        Content={"ZipFile": zip_folder(source)},
        CompatibleRuntimes=props.get("CompatibleRuntimes", []),
    )
    return Created(response["LayerVersionArn"], {"LocalPath": str(source)})


def function(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    source = target.template.local_path(props["Code"]["S3Key"])
    name = props.get("FunctionName") or target.name(logical_id, 64)
    kwargs: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": props["Runtime"],
        "Role": props["Role"],
        "Handler": props["Handler"],
        "Code": {"ZipFile": zip_folder(source)},
        "Timeout": int(props.get("Timeout", 3)),
        "MemorySize": int(props.get("MemorySize", 128)),
        "Environment": {"Variables": {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}},
        "Layers": props.get("Layers", []),
        "Architectures": props.get("Architectures", ["x86_64"]),
    }
    if "TracingConfig" in props:
        kwargs["TracingConfig"] = props["TracingConfig"]
    arn = target.client("lambda").create_function(**kwargs)["FunctionArn"]
    return Created(name, {"Arn": arn, "LocalPath": str(source)})


def function_url(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    """Served by the local stack itself (``function_urls``); moto has no function URLs to serve."""
    server = FunctionUrlServer(props["TargetFunctionArn"].rsplit(":", 1)[-1])
    target.function_urls[logical_id] = server
    return Created(server.url, {"FunctionUrl": server.url})


def permission(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    if "FunctionUrlAuthType" in props:  # who may call a function URL: the local URL server calls it itself
        return Created(logical_id)
    kwargs = {"FunctionName": props["FunctionName"], "StatementId": logical_id, "Action": props["Action"]}
    kwargs["Principal"] = props["Principal"]
    if "SourceArn" in props:
        kwargs["SourceArn"] = props["SourceArn"]
    target.client("lambda").add_permission(**kwargs)
    return Created(logical_id)


def state_machine(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    source = target.template.local_path(props["DefinitionS3Location"]["Key"])
    definition = source.read_text(encoding="utf-8")
    for name, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + name + "}", str(value))
    leftover = SUB_VARIABLE.search(definition)
    if leftover:
        raise TemplateError(f"{source.name}: ${{{leftover.group(1)}}} has no DefinitionSubstitutions entry")
    json.loads(definition)
    name = props.get("StateMachineName") or target.name(logical_id, 80)
    arn = target.client("stepfunctions").create_state_machine(
        name=name,
        definition=definition,
        roleArn=props["RoleArn"],
        type=props.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    return Created(arn, {"Arn": arn, "Name": name})


def rule(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    events = target.client("events")
    name = props.get("Name") or target.name(logical_id, 64)
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
