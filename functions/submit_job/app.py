"""Submit: create the paid provider task with presigned inputs, and schedule the first status check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.models import Job, ValidatedMedia
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.polling import PollPolicy
from avatar_pipeline.providers.registry import adapter_for
from avatar_pipeline.settings import int_env
from avatar_pipeline.submission import submit_job
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class SubmitInput(BaseModel):
    job: Job
    media: ValidatedMedia


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = SubmitInput.model_validate(event)
    logger.append_keys(job_id=step.job.job_id)
    task = submit_job(
        step.job,
        step.media,
        adapter=adapter_for(step.job.provider),
        s3=aws.s3(),
        policy=PollPolicy.from_env(),
        presign_seconds=int_env("PRESIGN_SECONDS", 900),
        now=datetime.now(UTC),
    )
    logger.info("provider task created", extra={"provider": task.provider, "task_id": task.task_id})
    metrics.add_dimension(name="provider", value=task.provider)
    metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
    return task.model_dump(mode="json")
