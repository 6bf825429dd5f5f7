"""Creates the expanded template's resources in the local AWS, resolving intrinsic functions as CloudFormation does.

Why an interpreter of our own rather than moto's CloudFormation (``create_stack``), checked with moto 5.2.5: given
the SAM expansion with the state machine definitions inlined and the code uploaded to S3, moto creates most of the
stack, but it

- has no ``AWS::SecretsManager::Secret``, ``AWS::S3::BucketPolicy``, ``AWS::SQS::QueuePolicy`` or
  ``AWS::CloudWatch::Alarm`` (it warns and skips them), and then silently drops every environment variable that
  refers to a skipped resource: SubmitJob, CheckStatus and PersistResult would run without ``PROVIDER_SECRET_ARN``;
- loses the functions' ``Layers`` (the ``Ref`` to the generated layer version comes back empty);
- ignores a bucket's ``PublicAccessBlockConfiguration``, ``OwnershipControls`` and ``LifecycleConfiguration``.

Working around that would need the secret made first and passed in, the layers and bucket settings put back after,
and the policies and alarms created by hand with their references resolved: this same interpreter, plus moto's.
``tests/integration/test_moto_upstream.py`` fails once a moto upgrade closes these gaps, the cue to switch.
Parameters are checked against every constraint the template declares (``cfn_parameters``), as CloudFormation does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from . import cfn_compute, cfn_monitoring, cfn_storage
from .cfn_conditions import evaluated
from .cfn_intrinsics import ACCOUNT_ID, Created, Intrinsics, creation_order
from .cfn_parameters import TemplateError, checked_parameters
from .cfn_target import Target
from .template import ExpandedTemplate

__all__ = ["ACCOUNT_ID", "Created", "Provisioned", "Provisioner", "TemplateError"]

Handler = Callable[[Target, str, dict[str, Any]], Created]
HANDLERS: dict[str, Handler] = {
    "AWS::S3::Bucket": cfn_storage.bucket,
    "AWS::S3::BucketPolicy": cfn_storage.bucket_policy,
    "AWS::DynamoDB::Table": cfn_storage.table,
    "AWS::SecretsManager::Secret": cfn_storage.secret,
    "AWS::Logs::LogGroup": cfn_storage.log_group,
    "AWS::CloudWatch::Alarm": cfn_storage.alarm,
    "AWS::CloudWatch::Dashboard": cfn_monitoring.dashboard,
    "AWS::SNS::Topic": cfn_monitoring.topic,
    "AWS::SNS::TopicPolicy": cfn_monitoring.topic_policy,
    "AWS::SNS::Subscription": cfn_monitoring.subscription,
    "AWS::SQS::Queue": cfn_storage.queue,
    "AWS::SQS::QueuePolicy": cfn_storage.queue_policy,
    "AWS::IAM::Role": cfn_compute.role,
    "AWS::Lambda::LayerVersion": cfn_compute.layer,
    "AWS::Lambda::Function": cfn_compute.function,
    "AWS::Lambda::Permission": cfn_compute.permission,
    "AWS::Lambda::Url": cfn_compute.function_url,
    "AWS::StepFunctions::StateMachine": cfn_compute.state_machine,
    "AWS::Events::Rule": cfn_compute.rule,
}


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
        region = session.region_name or "us-east-1"
        self.template = template
        self.target = Target(template, session, endpoint_url, stack_name, region)
        # Unique per run, as a real stack's id is per deployment: anything derived from it must not outlive the run.
        stack_id = f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack_name}/{uuid.uuid4()}"
        self.intrinsics = Intrinsics(
            parameters=checked_parameters(template.parameters, parameter_values),
            region=region,
            stack_name=stack_name,
            stack_id=stack_id,
        )

    def provision(self) -> Provisioned:
        resolved: dict[str, dict[str, Any]] = {}
        conditions = evaluated(self.template.conditions, self.intrinsics.resolve)
        for logical_id in creation_order(self.template.resources):
            resource = self.template.resources[logical_id]
            if "Condition" in resource and not conditions[resource["Condition"]]:
                continue  # as CloudFormation: not created for these parameter values
            handler = HANDLERS.get(resource["Type"])
            if handler is None:
                raise TemplateError(f"{logical_id}: the local stack cannot create {resource['Type']} resources yet")
            properties = self.intrinsics.resolve(resource.get("Properties", {}))
            resolved[logical_id] = properties
            self.intrinsics.created[logical_id] = handler(self.target, logical_id, properties)
        types = {logical: self.template.resources[logical]["Type"] for logical in resolved}
        return Provisioned(resources=dict(self.intrinsics.created), properties=resolved, types=types)
