"""AdmitJob: before a job pays its provider, check its budget and take a slot of its provider account, or say how
long it may still wait for one; after the provider throttled it, give the slot back and back off."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from avatar_pipeline import aws, job_metrics
from avatar_pipeline.admitting import AdmissionState, admit, requeue
from avatar_pipeline.attempt_end import AttemptEndSettings
from avatar_pipeline.budget import Budget
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.jobs import JobStore
from avatar_pipeline.models import Job, ValidatedMedia
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.pricing import Prices
from avatar_pipeline.settings import JobsTable, load_settings
from avatar_pipeline.slots import Slots
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field


class Settings(AttemptEndSettings):
    jobs_table: JobsTable
    provider_prices: Prices
    queue_timeout_seconds: int = Field(43200, alias="QUEUE_TIMEOUT_SECONDS")


class AdmitInput(BaseModel):
    action: Literal["admit", "requeue"]
    job: Job
    media: ValidatedMedia
    execution_arn: str
    admission: AdmissionState | None = None


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = AdmitInput.model_validate(event)
    job, now = step.job, datetime.now(UTC)
    logger.append_keys(job_id=job.job_id, attempt=job.attempt)
    slots = Slots.from_settings(settings)
    queue_timeout = settings.queue_timeout_seconds
    if step.action == "requeue" and step.admission is not None:
        state = requeue(job, step.admission, slots=slots, queue_timeout_seconds=queue_timeout, now=now)
        logger.warning(
            "the provider throttled a submit: back in the queue",
            extra={"account": state.account, "requeues": state.requeues, "backoff_seconds": state.backoff_seconds},
        )
        metrics.add_dimension(name="account", value=state.account)
        metrics.add_metric(name="ProviderThrottledRequeued", unit=MetricUnit.Count, value=1)
        return state.model_dump(mode="json")
    state = admit(
        job,
        step.media,
        step.admission,
        execution_arn=step.execution_arn,
        slots=slots,
        budget=Budget(settings.admission_table, aws.dynamodb(), settings.daily_budget_usd),
        jobs=JobStore(settings.jobs_table, aws.dynamodb()),
        prices=settings.provider_prices,
        queue_timeout_seconds=queue_timeout,
        now=now,
    )
    logger.info("admission", extra=state.model_dump(mode="json"))
    if state.admitted:
        job_metrics.admitted(job.provider, state.queued_since, now)
    metrics.add_metric(name="JobsAdmitted" if state.admitted else "JobsQueued", unit=MetricUnit.Count, value=1)
    return state.model_dump(mode="json")
