"""Requests that must be refused: each is evaluated like an allowed one and must come out denied. Resource
policies are part of it: the buckets' TLS-only policies, and who may invoke which function."""

from __future__ import annotations

from .deployment import Deployment
from .principals import Principal
from .requests import Request

ANONYMOUS = "anonymous"
# The functions that talk to providers, and so need their credentials (submit, status checks, result download,
# and the webhook, which verifies callbacks and re-reads Kling tasks).
PROVIDER_CALLERS = {"SubmitJobFunction", "CheckStatusFunction", "PersistResultFunction", "WebhookFunction"}
# They and SignVideo, which reads the secret's c2pa key itself, are the secret's only readers.
SECRET_READERS = PROVIDER_CALLERS | {"SignVideoFunction"}


def deny_requests(deployment: Deployment, principals: dict[str, Principal]) -> list[Request]:
    input_bucket = deployment.attribute("InputBucket", "Arn")
    output_bucket = deployment.attribute("OutputBucket", "Arn")
    input_key = f"{input_bucket}/jobs/sample-id/portrait.jpg"
    output_key = f"{output_bucket}/sample-id/video.mp4"
    secret = deployment.physical("ProviderSecret")
    found = [
        Request(
            "PersistResultFunction", "s3:PutObject", input_key, "Persist never writes the input bucket", expect="Denied"
        ),
        Request(
            "ValidateMediaFunction",
            "s3:PutObject",
            output_key,
            "Validate never writes the output bucket",
            expect="Denied",
        ),
        Request(
            "SignVideoFunction",
            "s3:PutObject",
            output_key,
            "SignVideo writes only under staging/: PersistResult stores video.mp4",
            expect="Denied",
        ),
    ]
    for name in principals:
        if name not in SECRET_READERS:
            found.append(
                Request(
                    name,
                    "secretsmanager:GetSecretValue",
                    secret,
                    "only provider callers and SignVideo read the secret",
                    expect="Denied",
                )
            )
        if name in deployment.of_type("AWS::Lambda::Function"):
            found.append(
                Request(name, "s3:DeleteObject", output_key, "no function deletes a stored output", expect="Denied")
            )
    for action, resource in (
        ("s3:GetObject", input_key),
        ("s3:GetObject", output_key),
        ("s3:PutObject", output_key),
        ("s3:ListBucket", input_bucket),
        ("s3:ListBucket", output_bucket),
    ):
        found.append(
            Request("WebhookFunction", action, resource, "the public webhook never reaches S3", expect="Denied")
        )
    found += _rule_roles(deployment, principals, input_key)
    found += _resource_policies(deployment, input_key, output_key)
    return found


def _rule_roles(deployment: Deployment, principals: dict[str, Principal], input_key: str) -> list[Request]:
    found: list[Request] = []
    machines = {deployment.physical(m) for m in deployment.of_type("AWS::StepFunctions::StateMachine")}
    some_function = deployment.attribute("SubmitJobFunction", "Arn")
    for rule in deployment.of_type("AWS::Events::Rule"):
        if rule not in principals:
            continue
        own = {target["Arn"] for target in deployment.properties[rule]["Targets"]}
        others = [("states:StartExecution", machine) for machine in sorted(machines - own)] + [
            ("states:StopExecution", next(iter(own)).replace(":stateMachine:", ":execution:") + ":sample-execution"),
            ("lambda:InvokeFunction", some_function),
            ("s3:GetObject", input_key),
            ("dynamodb:GetItem", deployment.attribute("JobsTable", "Arn")),
            ("secretsmanager:GetSecretValue", deployment.physical("ProviderSecret")),
            ("events:PutEvents", f"arn:aws:events:{deployment.region}:{deployment.account}:event-bus/default"),
        ]
        found += [
            Request(rule, action, resource, "a rule's role only starts its target", expect="Denied")
            for action, resource in others
        ]
    return found


def _resource_policies(deployment: Deployment, input_key: str, output_key: str) -> list[Request]:
    plain_http = {"aws:SecureTransport": "false"}
    webhook = deployment.attribute("WebhookFunction", "Arn")
    pair_drop = deployment.attribute("PairDropFunction", "Arn")
    own_rule = deployment.attribute("PairDropFunctionMediaDropped", "Arn")
    other_rule = deployment.attribute("ReconcileFunctionSweep", "Arn")
    return [
        Request(ANONYMOUS, "s3:GetObject", output_key, "no public reads of outputs", expect="Denied"),
        Request(
            ANONYMOUS,
            "s3:ListBucket",
            deployment.attribute("OutputBucket", "Arn"),
            "no public listing",
            expect="Denied",
        ),
        Request(ANONYMOUS, "s3:PutObject", input_key, "no public writes of inputs", expect="Denied"),
        Request("PersistResultFunction", "s3:PutObject", output_key, "TLS only (bucket policy)", plain_http, "Denied"),
        Request("SubmitJobFunction", "s3:GetObject", input_key, "TLS only (bucket policy)", plain_http, "Denied"),
        Request(
            ANONYMOUS,
            "lambda:InvokeFunctionUrl",
            webhook,
            "the webhook URL is public",
            {"lambda:FunctionUrlAuthType": "NONE"},
        ),
        Request(
            ANONYMOUS, "lambda:InvokeFunction", webhook, "through its URL", {"lambda:InvokedViaFunctionUrl": "true"}
        ),
        Request(ANONYMOUS, "lambda:InvokeFunction", webhook, "but not directly", expect="Denied"),
        Request(ANONYMOUS, "lambda:InvokeFunction", pair_drop, "only EventBridge invokes PairDrop", expect="Denied"),
        Request(
            "events.amazonaws.com",
            "lambda:InvokeFunction",
            pair_drop,
            "its rule invokes it",
            {"aws:SourceArn": own_rule},
        ),
        Request(
            "events.amazonaws.com",
            "lambda:InvokeFunction",
            pair_drop,
            "another rule may not",
            {"aws:SourceArn": other_rule},
            "Denied",
        ),
    ]
