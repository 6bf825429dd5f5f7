"""The local stack's DynamoDB keeps every request atomic under concurrency, as DynamoDB does: transactions that are
refused while other requests write neither fail with a server error nor undo those writes (moto alone lost 2 of 200
increments and 4 of 200 puts, and answered 28 requests with 500, in the same run)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config

from tests.integration.small_stack import SmallStack, running_stack

FILLER_ITEMS = 2000  # the deep copy a transaction starts with takes longer the larger the table
WRITES = 200


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallStack]:
    with running_stack(tmp_path_factory.mktemp("dynamodb-atomicity")) as running:
        yield running


def test_refused_transactions_neither_fail_nor_undo_concurrent_writes(stack: SmallStack) -> None:
    info = stack.info
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=info["endpoint_url"],
        region_name=info["region"],
        aws_access_key_id=info["access_key_id"],
        aws_secret_access_key=info["secret_access_key"],
        config=Config(max_pool_connections=32, retries={"max_attempts": 0}),  # a server error is a finding
    )
    table = "atomicity"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(0, FILLER_ITEMS, 25):
        requests = [
            {"PutRequest": {"Item": {"pk": {"S": f"filler-{m}"}, "v": {"S": "x" * 200}}}} for m in range(n, n + 25)
        ]
        dynamodb.batch_write_item(RequestItems={table: requests})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "n": {"N": "0"}})
    failures: list[str] = []
    lock = threading.Lock()

    def refused_transaction() -> None:
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": "filler-1"}},
                            "UpdateExpression": "SET v = :v",
                            "ConditionExpression": "attribute_not_exists(v)",
                            "ExpressionAttributeValues": {":v": {"S": "y"}},
                        }
                    }
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException:
            return

    def write(n: int) -> None:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "counter"}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"new-{n}"}})

    def one(n: int) -> None:
        try:
            if n % 2:
                refused_transaction()
            else:
                write(n // 2)
        except Exception as error:
            with lock:
                failures.append(repr(error))

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(one, range(2 * WRITES)))

    assert failures == []
    counted = dynamodb.get_item(TableName=table, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]["n"]["N"]
    assert int(counted) == WRITES
    kept = [n for n in range(WRITES) if "Item" in dynamodb.get_item(TableName=table, Key={"pk": {"S": f"new-{n}"}})]
    assert len(kept) == WRITES
