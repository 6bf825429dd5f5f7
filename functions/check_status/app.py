"""CheckStatus: one status check; returns the next wait while the provider is still generating."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.inputs import presigned_inputs
from avatar_pipeline.models import Job, ProviderTask, ValidatedMedia
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.polling import PollPolicy
from avatar_pipeline.providers.registry import adapter_for
from avatar_pipeline.settings import int_env
from avatar_pipeline.status import check_task
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class CheckInput(BaseModel):
    job: Job
    media: ValidatedMedia
    task: ProviderTask


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = CheckInput.model_validate(event)
    logger.append_keys(job_id=step.job.job_id, task_id=step.task.task_id)
    task = check_task(
        step.job,
        step.task,
        adapter=adapter_for(step.task.provider),
        inputs=lambda: presigned_inputs(step.media, aws.s3(), int_env("PRESIGN_SECONDS", 900)),
        policy=PollPolicy.from_env(),
        now=datetime.now(UTC),
    )
    logger.info(
        "status checked",
        extra={"status": task.status, "polls": task.polls, "next_wait": task.next_wait_seconds},
    )
    metrics.add_metric(name="StatusChecks", unit=MetricUnit.Count, value=1)
    return task.model_dump(mode="json")
