"""Submit: create the paid provider task with presigned inputs, and schedule the first status check.

Exactly one provider task per job: the submission is idempotent on the job id (Powertools idempotency,
DynamoDB), so a Lambda retry, a re-run step or a response lost after the provider accepted returns the task
already created instead of paying for a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.models import Job, ProviderTask, ValidatedMedia
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.polling import PollPolicy
from avatar_pipeline.providers.registry import adapter_for
from avatar_pipeline.settings import int_env, required_env
from avatar_pipeline.submission import submit_job
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

# A job's task is remembered for a week: longer than any job's deadline and any re-delivery of its trigger.
IDEMPOTENCY_WINDOW_SECONDS = 7 * 24 * 3600

idempotency = IdempotencyConfig(
    event_key_jmespath="job_id", raise_on_no_idempotency_key=True, expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS
)
persistence = DynamoDBPersistenceLayer(table_name=required_env("IDEMPOTENCY_TABLE"))


class SubmitInput(BaseModel):
    job: Job
    media: ValidatedMedia


def _submit(*, job: Job, media: ValidatedMedia) -> ProviderTask:
    task = submit_job(
        job,
        media,
        adapter=adapter_for(job.provider),
        s3=aws.s3(),
        policy=PollPolicy.from_env(),
        presign_seconds=int_env("PRESIGN_SECONDS", 900),
        now=datetime.now(UTC),
    )
    metrics.add_dimension(name="provider", value=task.provider)
    metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
    return task


submit_once: Callable[..., ProviderTask] = idempotent_function(
    data_keyword_argument="job",
    config=idempotency,
    persistence_store=persistence,
    output_serializer=PydanticSerializer(model=ProviderTask),
)(_submit)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = SubmitInput.model_validate(event)
    logger.append_keys(job_id=step.job.job_id)
    idempotency.register_lambda_context(context)
    task = submit_once(job=step.job, media=step.media)
    logger.info("provider task", extra={"provider": task.provider, "task_id": task.task_id})
    return task.model_dump(mode="json")
