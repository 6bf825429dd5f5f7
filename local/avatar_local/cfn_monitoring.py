"""The stack's monitoring resources in the local AWS: the alarm topic, its policy and subscriptions, the dashboard."""

from __future__ import annotations

import json
from typing import Any

from .cfn_intrinsics import ACCOUNT_ID, Created
from .cfn_target import Target


def topic(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    name = props.get("TopicName") or target.name(logical_id, 256)
    attributes = {key: str(props[key]) for key in ("DisplayName", "KmsMasterKeyId") if key in props}
    arn = target.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return Created(arn, {"TopicArn": arn, "TopicName": name})


def topic_policy(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    sns = target.client("sns")
    for arn in props["Topics"]:
        sns.set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
        )
    return Created(f"{logical_id}-policy")


def subscription(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    found = target.client("sns").subscribe(
        TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
    )
    return Created(found["SubscriptionArn"])


def dashboard(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    name = props.get("DashboardName") or target.name(logical_id, 255)
    target.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
    return Created(name, {"Arn": f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{name}"})
