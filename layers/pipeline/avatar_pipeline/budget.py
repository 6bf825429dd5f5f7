"""Spend control (contract: ``max_cost_usd`` and ``DailyBudgetUsd``, error ``BudgetExceeded``).

A job attempt's estimate (price per output second times audio seconds) is checked against its own ``max_cost_usd`` and
reserved against today's (UTC) budget before anything is submitted. The reservation is one item per attempt, written
once with the day's total in one transaction, so a retried step, a requeue after throttling or a duplicate never
counts twice, while a re-run (a new attempt, paid again) does. An attempt that ends without having submitted gives
its reservation back; one whose provider reports what it really cost replaces its estimate with that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .dynamo import from_item, to_value
from .errors import BudgetExceeded, ProviderUnavailable
from .provider_accounts import slot_key
from .s3errors import aws_failure, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SPEND = "spend#"
TOTAL = "total"


def day_of(now: datetime) -> str:
    return now.date().isoformat()


@dataclass(frozen=True)
class Budget:
    table: str
    dynamodb: DynamoDBClient
    daily_usd: float  # 0: no daily budget

    def reserve(
        self, key: str, estimate_usd: float | None, max_cost_usd: float | None, what: str, now: datetime
    ) -> str | None:
        """Checks and reserves the attempt's estimate; the day it is reserved on (None when nothing is tracked)."""
        if max_cost_usd is not None:
            if estimate_usd is None:
                raise BudgetExceeded(f"{what} has no price to estimate against max_cost_usd {max_cost_usd:g}")
            if estimate_usd > max_cost_usd:
                raise BudgetExceeded(
                    f"{what} is estimated at ${estimate_usd:.4f}, over its max_cost_usd ${max_cost_usd:g}"
                )
        if self.daily_usd <= 0 or not estimate_usd:
            return None
        day = day_of(now)
        if self._get(day, f"job#{key}") is not None:
            return day  # reserved by an earlier try of this attempt
        room = Decimal(str(self.daily_usd)) - Decimal(str(estimate_usd))
        reservation = {"amount": estimate_usd, "reserved_at": now.isoformat()}
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _item({"pk": SPEND + day, "sk": f"job#{key}", **reservation}),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(day, TOTAL),
                            "UpdateExpression": "ADD reserved_usd :amount",
                            "ConditionExpression": "attribute_not_exists(reserved_usd) OR reserved_usd <= :room",
                            "ExpressionAttributeValues": {":amount": to_value(estimate_usd), ":room": to_value(room)},
                        }
                    },
                ],
            )
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise aws_failure(error, "reserving the daily budget", permanent=ProviderUnavailable) from error
            if self._get(day, f"job#{key}") is not None:
                return day
            spent = float((self._get(day, TOTAL) or {}).get("reserved_usd", 0))
            raise BudgetExceeded(
                f"{what} is estimated at ${estimate_usd:.4f}; today's (UTC {day}) budget of ${self.daily_usd:g} has "
                f"${max(0.0, self.daily_usd - spent):.4f} left (${spent:.4f} reserved); nothing was submitted"
            ) from None
        return day

    def settle(self, day: str, key: str, actual_usd: float | None) -> None:
        """Gives the reservation back (``actual_usd`` None: nothing was submitted) or replaces it by the actual cost;
        each reservation is settled once."""
        found = self._get(day, f"job#{key}")
        if found is None or "settled" in found:
            return
        delta = Decimal(str(actual_usd or 0)) - Decimal(str(found["amount"]))
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(day, f"job#{key}"),
                            "UpdateExpression": "SET settled = :actual",
                            "ConditionExpression": "attribute_not_exists(settled)",
                            "ExpressionAttributeValues": {":actual": to_value(actual_usd or 0)},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(day, TOTAL),
                            "UpdateExpression": "ADD reserved_usd :delta",
                            "ExpressionAttributeValues": {":delta": to_value(delta)},
                        }
                    },
                ],
            )
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise aws_failure(error, "settling the daily budget", permanent=ProviderUnavailable) from error

    def _get(self, day: str, sk: str) -> dict[str, Any] | None:
        try:
            found = self.dynamodb.get_item(TableName=self.table, Key=_key(day, sk), ConsistentRead=True)
        except ClientError as error:
            raise aws_failure(error, "reading the daily budget", permanent=ProviderUnavailable) from error
        return from_item(found["Item"]) if "Item" in found else None


def _key(day: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": SPEND + day}, "sk": {"S": sk}}


def _item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: to_value(value) for name, value in item.items()}


def settle_spend(budget: Budget, item: dict[str, Any]) -> None:
    """At an attempt's end: nothing submitted gives the reservation back; a reported cost replaces the estimate."""
    day = item.get("budget_day")
    if not day:
        return
    key = slot_key(str(item["job_id"]), int(item.get("attempt") or 0))
    submissions = (item.get("submissions") or {}).values()
    if not any(isinstance(s, dict) and s.get("state") in ("accepted", "intent", "unknown") for s in submissions):
        budget.settle(str(day), key, None)
    elif item.get("actual_cost_usd") is not None:
        budget.settle(str(day), key, float(item["actual_cost_usd"]))
