"""What an attempt's end sets free, whichever step closes it (RecordOutcome, or Reconcile): its provider slot goes to
the next waiting job, and its budget reservation is given back (nothing was submitted) or settled (the provider
reported what it cost)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import aws
from .budget import Budget, settle_spend
from .settings import DailyBudgetUsd
from .slots import Slots, SlotsSettings


class AttemptEndSettings(SlotsSettings):
    """What an attempt's end sets free: its slot and its budget reservation."""

    daily_budget_usd: DailyBudgetUsd


@dataclass(frozen=True)
class AttemptEnd:
    slots: Slots
    budget: Budget

    @classmethod
    def from_settings(cls, settings: AttemptEndSettings) -> AttemptEnd:
        budget = Budget(settings.admission_table, aws.dynamodb(), settings.daily_budget_usd)
        return cls(slots=Slots.from_settings(settings), budget=budget)

    def __call__(self, item: dict[str, Any]) -> None:
        """``item``: the attempt's record as it was closed, by the run that owned it."""
        self.slots.free(item.get("provider"), str(item["job_id"]), int(item.get("attempt") or 0))
        settle_spend(self.budget, item)
