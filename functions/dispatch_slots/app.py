"""DispatchSlots: hands free provider slots to the oldest waiting jobs and wakes them. Invoked asynchronously by
whoever frees a slot, and on a schedule as the backstop for a lost wake-up or an expired lease."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws, job_metrics
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.dispatch import dispatch
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.settings import load_settings
from avatar_pipeline.slots import AdmissionSettings, admission_store
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class Settings(AdmissionSettings):
    """The admission table and each provider account's limit: all DispatchSlots is given."""


class DispatchInput(BaseModel):
    accounts: list[str] | None = None  # absent on the schedule's event: every limited account


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = DispatchInput.model_validate({"accounts": event.get("accounts")})
    store = admission_store(load_settings(Settings))
    accounts = step.accounts or sorted(store.limits)
    done = dispatch(store, aws.stepfunctions(), accounts, datetime.now(UTC))
    logger.info("dispatched", extra={"woken": done.woken, "expired": done.expired, "gone": done.gone})
    metrics.add_metric(name="SlotsHandedOn", unit=MetricUnit.Count, value=done.woken)
    if done.expired:
        metrics.add_metric(name="SlotLeasesExpired", unit=MetricUnit.Count, value=done.expired)
    now = datetime.now(UTC)
    for state in done.states:
        job_metrics.account_state(
            state.account,
            in_use=state.in_use,
            limit=state.limit,
            oldest_queued_since=state.oldest_queued_since,
            now=now,
        )
    return {"woken": done.woken, "expired": done.expired, "gone": done.gone, "accounts": accounts}
