"""The requests each principal must be allowed to make that the template itself implies: a function's logs,
traces and dead-letter queue, a state machine's service integrations (from its ASL ``Resource`` fields and
parameters, as the Step Functions developer guide's *IAM policies for integrated services* lists them), and an
EventBridge rule starting its state machine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .deployment import Deployment
from .iam_actions import Need

LAMBDA_INTEGRATION = "arn:aws:states:::lambda:invoke"
START_EXECUTION = "arn:aws:states:::states:startExecution"
SYNC_EXECUTION_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
STATE_MACHINE_LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
TRACE_WRITES = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")


class DynamicResource(ValueError):
    """An integration whose resource is only known at run time (covered by the recorded calls instead)."""


@dataclass(frozen=True)
class Request:
    principal: str
    action: str
    resource: str
    why: str
    context: dict[str, Any] = field(default_factory=dict)
    expect: str = "Allowed"


def template_requests(deployment: Deployment) -> list[Request]:
    found: list[Request] = []
    for function in deployment.of_type("AWS::Lambda::Function"):
        found += _function_runtime(deployment, function)
    for machine in deployment.of_type("AWS::StepFunctions::StateMachine"):
        found += _state_machine(deployment, machine)
    for rule in deployment.of_type("AWS::Events::Rule"):
        for target in deployment.properties[rule].get("Targets", []):
            if "RoleArn" in target:
                found.append(Request(rule, "states:StartExecution", target["Arn"], "the rule starts its target"))
    return found


def _function_runtime(deployment: Deployment, function: str) -> list[Request]:
    props = deployment.properties[function]
    name = deployment.physical(function)
    log_group = props.get("LoggingConfig", {}).get("LogGroup", f"/aws/lambda/{name}")
    log_arn = f"arn:aws:logs:{deployment.region}:{deployment.account}:log-group:{log_group}"
    found = [
        Request(function, "logs:CreateLogStream", f"{log_arn}:*", "the runtime writes the function's logs"),
        Request(
            function, "logs:PutLogEvents", f"{log_arn}:log-stream:2026/01/01/[$LATEST]0", "the runtime writes logs"
        ),
    ]
    if props.get("TracingConfig", {}).get("Mode") == "Active":
        found += [Request(function, action, "*", "active tracing sends segments") for action in TRACE_WRITES[:2]]
    dead_letters = props.get("DeadLetterConfig", {}).get("TargetArn")
    if dead_letters:
        found.append(
            Request(function, "sqs:SendMessage", dead_letters, "failed async events go to its dead-letter queue")
        )
    return found


def _state_machine(deployment: Deployment, machine: str) -> list[Request]:
    props = deployment.properties[machine]
    definition = deployment.definition(machine)
    found = [
        Request(machine, need.action, need.resource, f"{state}: {need.context.get('why', '')}".rstrip(": "))
        for state, need in _integrations(deployment, machine, definition["States"])
    ]
    if props.get("LoggingConfiguration", {}).get("Destinations"):
        found += [
            Request(machine, action, "*", "execution logs go to CloudWatch Logs")
            for action in STATE_MACHINE_LOG_DELIVERY
        ]
    if props.get("TracingConfiguration", {}).get("Enabled"):
        found += [Request(machine, action, "*", "tracing is enabled") for action in TRACE_WRITES]
    return found


def _integrations(deployment: Deployment, machine: str, states: dict[str, Any]) -> Iterator[tuple[str, Need]]:
    region, account = deployment.region, deployment.account
    own_name = deployment.attribute(machine, "Name")
    for name, state in states.items():
        resource = state.get("Resource")
        parameters = state.get("Parameters", state.get("Arguments", {}))
        if isinstance(resource, str):
            yield from ((name, need) for need in _task(resource, parameters, region, account))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _integrations(deployment, machine, processor["States"])
            if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
                yield from ((name, need) for need in _distributed_map(own_name, name, state, region, account))
        for branch in state.get("Branches", []):
            yield from _integrations(deployment, machine, branch["States"])


def _task(resource: str, parameters: dict[str, Any], region: str, account: str) -> list[Need]:
    if resource.startswith("arn:aws:lambda:"):
        return [Need("lambda:InvokeFunction", resource, {"why": "direct Lambda task"})]
    if resource.startswith(LAMBDA_INTEGRATION):
        return [Need("lambda:InvokeFunction", _static(parameters, "FunctionName"), {"why": resource})]
    if resource.startswith(START_EXECUTION):
        target = _static(parameters, "StateMachineArn")
        needs = [Need("states:StartExecution", target, {"why": resource})]
        if ".sync" in resource:
            executions = target.replace(":stateMachine:", ":execution:") + ":sample-execution"
            rule = f"arn:aws:events:{region}:{account}:rule/{SYNC_EXECUTION_RULE}"
            needs += [
                Need(action, executions, {"why": resource})
                for action in ("states:DescribeExecution", "states:StopExecution")
            ]
            needs += [
                Need(f"events:{action}", rule, {"why": resource})
                for action in ("PutTargets", "PutRule", "DescribeRule")
            ]
        return needs
    if resource.startswith("arn:aws:states:::") or resource.startswith("arn:aws:"):
        raise DynamicResource(f"integration {resource} is not modelled: add it to policy/requests.py")
    return []


def _distributed_map(own_name: str, state: str, spec: dict[str, Any], region: str, account: str) -> list[Need]:
    machine = f"arn:aws:states:{region}:{account}:stateMachine:{own_name}"
    child = f"arn:aws:states:{region}:{account}:execution:{own_name}/{state}:sample-execution"
    why = {"why": "Distributed Map child workflows"}
    needs = [Need("states:StartExecution", machine, why)]
    needs += [Need(action, child, why) for action in ("states:DescribeExecution", "states:StopExecution")]
    writer = spec.get("ResultWriter")
    if writer:
        params = writer.get("Parameters", writer.get("Arguments", {}))
        key = f"arn:aws:s3:::{_static(params, 'Bucket')}/{params.get('Prefix', '').strip('/')}/sample/manifest.json"
        writes = ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")
        needs += [Need(action, key, {"why": "ResultWriter"}) for action in writes]
    return needs


def _static(parameters: dict[str, Any], key: str) -> str:
    if key in parameters:
        return str(parameters[key])
    raise DynamicResource(f"{key}.$ is a run-time value")
