"""Creates the expanded template's storage, messaging and monitoring resources in the local AWS: buckets and
their policies, tables, the secret, queues and their policies, log groups and alarms."""

from __future__ import annotations

import json
from typing import Any

from .cfn_intrinsics import ACCOUNT_ID, Created
from .cfn_target import Target


def bucket(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    s3 = target.client("s3")
    name = props.get("BucketName") or target.name(logical_id, 63, lowercase=True)
    kwargs: dict[str, Any] = {"Bucket": name}
    if target.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
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
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
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


def bucket_policy(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    target.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
    return Created(f"{props['Bucket']}-policy")


def table(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    name = props.get("TableName") or target.name(logical_id, 255)
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
    dynamodb = target.client("dynamodb")
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


def secret(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    kwargs = {"Name": props.get("Name") or target.name(logical_id, 256)}
    if "SecretString" in props:
        kwargs["SecretString"] = props["SecretString"]
    if "Description" in props:
        kwargs["Description"] = props["Description"]
    arn = target.client("secretsmanager").create_secret(**kwargs)["ARN"]
    return Created(arn, {"Id": arn})


def log_group(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    name = props.get("LogGroupName") or target.name(logical_id, 512)
    logs = target.client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return Created(name, {"Arn": f"arn:aws:logs:{target.region}:{ACCOUNT_ID}:log-group:{name}:*"})


def alarm(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    name = props.get("AlarmName") or target.name(logical_id, 255)
    kwargs = {key: props[key] for key in props if key != "AlarmName"}
    for key in ("Period", "EvaluationPeriods"):
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
    if "Threshold" in kwargs:
        kwargs["Threshold"] = float(kwargs["Threshold"])
    target.client("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
    return Created(name, {"Arn": f"arn:aws:cloudwatch:{target.region}:{ACCOUNT_ID}:alarm:{name}"})


def queue(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    name = props.get("QueueName") or target.name(logical_id, 80)
    sqs = target.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def queue_policy(target: Target, logical_id: str, props: dict[str, Any]) -> Created:
    sqs = target.client("sqs")
    for url in props["Queues"]:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
    return Created(f"{logical_id}-policy")


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
    if "NoncurrentVersionExpiration" in rule:
        converted["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    return converted
