"""Per-provider-account admission (contract: Provider admission): a DynamoDB semaphore with waiting executions.

A job attempt takes a slot of its provider account before it submits and gives it back however it ends. One item per
account holds the slots (``holders``: who holds one, until when); a job that finds none free waits in Step Functions
with ``.waitForTaskToken`` and costs no state transitions while it waits: its token is kept in a waiter item whose
sort key is its arrival time, so the oldest waiter is woken first. Whoever frees a slot asks the dispatcher to hand
free slots to the oldest waiters (``dispatch``); a schedule runs it too, so a lost wake-up costs a minute at most.

Every change is a conditional write, so concurrent admissions, releases and dispatchers never put more holders in an
account than its limit. A holder's lease ends after the longest a job may take; an expired lease is freed by the
dispatcher, the last backstop against a slot leaked by a run that vanished.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .dynamo import from_item, to_value
from .errors import ProviderUnavailable
from .s3errors import aws_failure, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SLOTS = "slots"
WAITER = "wait#"
ACCOUNT = "account#"
TICKET = "ticket#"
POSITIONS_COUNTED = 100  # a queue position is told up to this; a job further back is told its wait time only


@dataclass(frozen=True)
class Waiter:
    key: str
    account: str
    sort_key: str
    token: str
    execution_arn: str


@dataclass(frozen=True)
class AdmissionStore:
    table: str
    dynamodb: DynamoDBClient
    limits: dict[str, int]
    lease_seconds: int

    def limit(self, account: str) -> int:
        return self.limits.get(account, 0)

    def holding(self, account: str, key: str) -> bool:
        slots = self._get(ACCOUNT + account, SLOTS) or {}
        return key in (slots.get("holders") or {})

    def try_acquire(self, account: str, key: str, execution_arn: str, now: datetime, *, queue_first: bool) -> bool:
        """Takes a free slot; with ``queue_first``, only when nobody is waiting (arrival order)."""
        if self.limit(account) == 0:
            return True
        if queue_first and self.oldest_waiters(account, 1):
            return self.holding(account, key)
        self._ensure_slots(account)
        holder = {"execution_arn": execution_arn, "granted_at": now.isoformat(), "lease_until": self._lease(now)}
        try:
            self._call(
                "update_item",
                Key=self._key(ACCOUNT + account, SLOTS),
                UpdateExpression="SET holders.#k = :holder, in_use = in_use + :one",
                ConditionExpression="in_use < :limit AND attribute_not_exists(holders.#k)",
                ExpressionAttributeNames={"#k": key},
                ExpressionAttributeValues=_values({":holder": holder, ":one": 1, ":limit": self.limit(account)}),
            )
        except _ConditionFailed:
            return self.holding(account, key)
        return True

    def enqueue(self, account: str, key: str, token: str, execution_arn: str, queued_since: str) -> int | None:
        """Waits for a slot; the same attempt enqueued again (a retried step) keeps its place. Returns its position,
        or None when it is further back than ``POSITIONS_COUNTED`` (counting further would read the whole queue
        for every job that joins it)."""
        sort_key = f"{WAITER}{queued_since}#{key}"
        waiter = {"token": token, "execution_arn": execution_arn, "key": key}
        self._call("put_item", Item=_item({"pk": ACCOUNT + account, "sk": sort_key, **waiter}))
        self._call("put_item", Item=_item({"pk": TICKET + key, "sk": TICKET, "account": account, "waiter": sort_key}))
        ahead = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :me",
            ExpressionAttributeValues=_values({":pk": ACCOUNT + account, ":first": WAITER, ":me": sort_key}),
            Select="COUNT",
            Limit=POSITIONS_COUNTED + 1,
        )
        position = int(ahead["Count"])
        return position if position <= POSITIONS_COUNTED else None

    def oldest_waiters(self, account: str, count: int) -> list[Waiter]:
        found = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :wait)",
            ExpressionAttributeValues=_values({":pk": ACCOUNT + account, ":wait": WAITER}),
            Limit=max(1, count),
            ConsistentRead=True,
        )
        return [_waiter(account, from_item(item)) for item in found.get("Items", [])]

    def grant(self, waiter: Waiter, now: datetime) -> bool:
        """Moves the oldest waiter into a free slot, atomically; False if the slot or the waiter is gone."""
        self._ensure_slots(waiter.account)
        holder = {
            "execution_arn": waiter.execution_arn,
            "granted_at": now.isoformat(),
            "lease_until": self._lease(now),
            "token": waiter.token,
        }
        try:
            self._call(
                "transact_write_items",
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key(ACCOUNT + waiter.account, SLOTS),
                            "UpdateExpression": "SET holders.#k = :holder, in_use = in_use + :one",
                            "ConditionExpression": "in_use < :limit AND attribute_not_exists(holders.#k)",
                            "ExpressionAttributeNames": {"#k": waiter.key},
                            "ExpressionAttributeValues": _values(
                                {":holder": holder, ":one": 1, ":limit": self.limit(waiter.account)}
                            ),
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": self._key(ACCOUNT + waiter.account, waiter.sort_key),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ],
            )
        except _ConditionFailed:
            if self.holding(waiter.account, waiter.key):  # a duplicate waiter of a holder: drop it
                self._call("delete_item", Key=self._key(ACCOUNT + waiter.account, waiter.sort_key))
            return False
        return True

    def woken(self, account: str, key: str) -> None:
        self._update_holder(account, key, "REMOVE holders.#k.#token", {"#token": "token"})

    def release(self, account: str, key: str) -> bool:
        """Gives back the attempt's slot and its place in the queue; idempotent. True if a slot was freed."""
        ticket = self._get(TICKET + key, TICKET)
        if ticket is not None:
            self._call("delete_item", Key=self._key(ACCOUNT + str(ticket["account"]), str(ticket["waiter"])))
            self._call("delete_item", Key=self._key(TICKET + key, TICKET))
        if self.limit(account) == 0:
            return False
        try:
            self._call(
                "update_item",
                Key=self._key(ACCOUNT + account, SLOTS),
                UpdateExpression="REMOVE holders.#k SET in_use = in_use - :one",
                ConditionExpression="attribute_exists(holders.#k)",
                ExpressionAttributeNames={"#k": key},
                ExpressionAttributeValues=_values({":one": 1}),
            )
        except _ConditionFailed:
            return False
        return True

    def slots(self, account: str) -> dict[str, Any]:
        return self._get(ACCOUNT + account, SLOTS) or {"in_use": 0, "holders": {}}

    def _update_holder(self, account: str, key: str, expression: str, names: dict[str, str]) -> None:
        with contextlib.suppress(_ConditionFailed):
            self._call(
                "update_item",
                Key=self._key(ACCOUNT + account, SLOTS),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(holders.#k)",
                ExpressionAttributeNames={"#k": key, **names},
            )

    def _lease(self, now: datetime) -> str:
        return (now + timedelta(seconds=self.lease_seconds)).isoformat()

    def _ensure_slots(self, account: str) -> None:
        with contextlib.suppress(_ConditionFailed):
            self._call(
                "put_item",
                Item=_item({"pk": ACCOUNT + account, "sk": SLOTS, "in_use": 0, "holders": {}}),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self._call("get_item", Key=self._key(pk, sk), ConsistentRead=True)
        return from_item(found["Item"]) if "Item" in found else None

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _call(self, operation: str, **request: Any) -> Any:
        if operation != "transact_write_items":
            request["TableName"] = self.table
        try:
            return getattr(self.dynamodb, operation)(**request)
        except ClientError as error:
            code = error_code(error)
            if code == "ConditionalCheckFailedException" or (
                code == "TransactionCanceledException" and "ConditionalCheckFailed" in str(error)
            ):
                raise _ConditionFailed from error
            raise aws_failure(error, f"{operation} on the admission table", permanent=ProviderUnavailable) from error


class _ConditionFailed(Exception):
    pass


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {name: to_value(value) for name, value in values.items()}


def _item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: to_value(value) for name, value in item.items()}


def _waiter(account: str, item: dict[str, Any]) -> Waiter:
    return Waiter(
        key=str(item["key"]),
        account=account,
        sort_key=str(item["sk"]),
        token=str(item["token"]),
        execution_arn=str(item["execution_arn"]),
    )
