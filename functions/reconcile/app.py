"""Reconcile: an execution that ended outside the state machine's failure path (stopped, timed out, failed past a
Catch) closes its job's record and publishes its event; on a schedule, a sweep catches any event that was lost."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.attempt_end import AttemptEnd, AttemptEndSettings
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.eventbridge import EventBridgeEvent
from avatar_pipeline.jobs import JobStore
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.outcome import Outcomes
from avatar_pipeline.reconciler import ExecutionEnd, Reconciler
from avatar_pipeline.settings import EventBus, JobsTable, load_settings
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

STATUS_CHANGE = "Step Functions Execution Status Change"


class Settings(AttemptEndSettings):
    jobs_table: JobsTable
    event_bus_name: EventBus


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    envelope = EventBridgeEvent.model_validate(event)
    store = JobStore(table=settings.jobs_table, dynamodb=aws.dynamodb())
    outcomes = Outcomes(
        store=store, events=aws.events(), event_bus=settings.event_bus_name, on_end=AttemptEnd.from_settings(settings)
    )
    reconciler, now = Reconciler(store, outcomes), datetime.now(UTC)
    if envelope.detail_type == STATUS_CHANGE:
        end = ExecutionEnd.model_validate(envelope.detail)
        done = [reconciler.execution_ended(end, now)]
    else:
        done = reconciler.sweep(aws.stepfunctions(), now)
    logger.info("reconciled", extra={"done": done})
    metrics.add_metric(name="Reconciled", unit=MetricUnit.Count, value=len(done))
    return {"done": done}
