"""What the local stack provisions from a template beyond the pipeline's own: a DynamoDB table's global secondary
index, time to live and stream, and an ``AWS::StackId`` unique to the run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.integration.small_stack import SmallStack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallStack]:
    with running_stack(tmp_path_factory.mktemp("template-resources")) as running:
        yield running


def test_a_global_secondary_index_declared_in_the_template_is_queryable(stack: SmallStack) -> None:
    dynamodb = stack.client("dynamodb")
    table = stack.info["jobs_table"]
    for job_id, status, updated_at in (("a", "RUNNING", 3), ("b", "RUNNING", 1), ("c", "SUCCEEDED", 2)):
        item = {
            "job_id": {"S": job_id},
            "status": {"S": status},
            "updated_at": {"N": str(updated_at)},
            "provider": {"S": "wavespeed"},
            "secret_note": {"S": "not projected"},
        }
        dynamodb.put_item(TableName=table, Item=item)

    found = dynamodb.query(
        TableName=table,
        IndexName="by_status",
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "RUNNING"}},
    )["Items"]

    assert [item["job_id"]["S"] for item in found] == ["b", "a"]
    index = dynamodb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"][0]
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["provider"]}


def test_time_to_live_and_stream_are_set_up(stack: SmallStack) -> None:
    dynamodb = stack.client("dynamodb")
    table = stack.info["jobs_table"]

    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    described = dynamodb.describe_table(TableName=table)["Table"]

    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    environment = _sleeper_environment(stack)
    assert environment["JOBS_STREAM_ARN"] == described["LatestStreamArn"]


def test_the_stack_id_is_unique_to_the_run(stack: SmallStack) -> None:
    stack_id = _sleeper_environment(stack)["STACK_ID"]

    prefix, _, run = stack_id.rpartition("/")

    assert prefix == "arn:aws:cloudformation:us-east-1:123456789012:stack/avatar-pipeline"
    assert uuid.UUID(run).version == 4


def _sleeper_environment(stack: SmallStack) -> dict[str, str]:
    configuration = stack.client("lambda").get_function_configuration(FunctionName=stack.function_name("Sleeper"))
    return dict(configuration["Environment"]["Variables"])
