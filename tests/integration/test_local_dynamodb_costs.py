"""The local stack's DynamoDB shortcuts (``avatar_local.dynamodb_costs``) answer exactly as moto does without them:
every query of a table's own key, page by page, and every transaction that is refused (its earlier writes undone,
nothing else touched) or applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from avatar_local.dynamodb_costs import install_dynamodb_shortcuts
from moto import mock_aws

TABLE = "admission"
QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "account#b"}}},
    {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :w)",
        "ExpressionAttributeValues": {":pk": {"S": "account#a"}, ":w": {"S": "wait#"}},
        "Limit": 7,
    },
    {
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {":pk": {"S": "account#a"}, ":lo": {"S": "wait#05"}, ":hi": {"S": "wait#30"}},
        "Select": "COUNT",
    },
    {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "account#a"}, ":n": {"N": "10"}},
        "FilterExpression": "n > :n",
        "ScanIndexForward": False,
    },
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "account#none"}}},
    {
        "IndexName": "by-n",
        "KeyConditionExpression": "kind = :k",
        "ExpressionAttributeValues": {":k": {"S": "waiter"}},
        "Limit": 5,
    },
]


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in (("pk", "S"), ("sk", "S"), ("kind", "S"), ("n", "N"))
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-n",
                    "KeySchema": [
                        {"AttributeName": "kind", "KeyType": "HASH"},
                        {"AttributeName": "n", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for account in "abc":
            for n in range(40):
                item = {"pk": {"S": f"account#{account}"}, "sk": {"S": f"wait#{n:02d}"}, "n": {"N": str(n)}}
                client.put_item(TableName=TABLE, Item={**item, "kind": {"S": "waiter"}})
            client.put_item(TableName=TABLE, Item={"pk": {"S": f"account#{account}"}, "sk": {"S": "slots"}})
        yield client


def _all_pages(dynamodb: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    pages, start = [], None
    while True:
        page = dynamodb.query(TableName=TABLE, **query, **({"ExclusiveStartKey": start} if start else {}))
        page.pop("ResponseMetadata")
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q["KeyConditionExpression"])
def test_a_query_reads_the_same_pages_as_moto(dynamodb: Any, query: dict[str, Any]) -> None:
    expected = _all_pages(dynamodb, query)
    uninstall = install_dynamodb_shortcuts()
    try:
        assert _all_pages(dynamodb, query) == expected
    finally:
        uninstall()


def _everything(dynamodb: Any) -> list[dict[str, Any]]:
    return sorted(dynamodb.scan(TableName=TABLE)["Items"], key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def test_a_refused_transaction_undoes_its_writes_and_nothing_else(dynamodb: Any) -> None:
    before = _everything(dynamodb)
    uninstall = install_dynamodb_shortcuts()
    try:
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": TABLE,
                            "Key": {"pk": {"S": "account#a"}, "sk": {"S": "slots"}},
                            "UpdateExpression": "SET in_use = :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                    {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "account#a"}, "sk": {"S": "wait#00"}}}},
                    {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "account#a"}, "sk": {"S": "new"}}}},
                    {
                        "Delete": {
                            "TableName": TABLE,
                            "Key": {"pk": {"S": "account#b"}, "sk": {"S": "wait#99"}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
        assert _everything(dynamodb) == before
        dynamodb.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "account#a"}, "sk": {"S": "wait#00"}}}},
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "account#a"}, "sk": {"S": "new"}}}},
            ]
        )
    finally:
        uninstall()
    after = {(item["pk"]["S"], item["sk"]["S"]) for item in _everything(dynamodb)}
    assert after == {(item["pk"]["S"], item["sk"]["S"]) for item in before} - {("account#a", "wait#00")} | {
        ("account#a", "new")
    }
