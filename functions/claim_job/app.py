"""Claim: one owner per job attempt. A duplicate delivery or request stops here; a conflicting one is refused;
a job that failed or was cancelled starts a new attempt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.jobs import JobStore
from avatar_pipeline.models import Job, JobRef, StepFailure
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.settings import EnvSettings, JobsTable, load_settings
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class Settings(EnvSettings):
    jobs_table: JobsTable


class ClaimInput(BaseModel):
    ref: JobRef
    job: Job | None = None
    rejection: StepFailure | None = None
    execution_arn: str


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = ClaimInput.model_validate(event)
    logger.append_keys(job_id=step.ref.job_id)
    store = JobStore(table=settings.jobs_table, dynamodb=aws.dynamodb())
    claim = store.claim(step.ref, step.execution_arn, datetime.now(UTC))
    rejection, job = step.rejection, step.job
    if claim.outcome == "refused" and rejection is None:
        rejection = StepFailure(Error="InvalidRequest", Cause=claim.reason)
    if claim.outcome == "claimed" and job is not None:
        job = job.model_copy(update={"attempt": claim.attempt})
    logger.info("claim", extra={"outcome": claim.outcome, "attempt": claim.attempt, "status": claim.status})
    metrics.add_metric(name=f"Claims{claim.outcome.title()}", unit=MetricUnit.Count, value=1)
    return {
        "ref": step.ref.model_dump(mode="json"),
        "job": job.model_dump(mode="json") if job else None,
        "rejection": rejection.model_dump(mode="json") if rejection else None,
        "claim": claim.model_dump(mode="json"),
        "admission": None,
    }
