"""CheckStatus: one status check; returns the next wait while the provider is still generating."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.inputs import presigned_inputs
from avatar_pipeline.jobs import JobStore
from avatar_pipeline.ledger import Ledger
from avatar_pipeline.models import Job, ProviderTask, ValidatedMedia
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.poll_settings import PollSettings
from avatar_pipeline.providers.base import TaskRef
from avatar_pipeline.providers.http import invocation_client
from avatar_pipeline.providers.registry import ProviderSettings, adapter_for
from avatar_pipeline.settings import DeploymentId, JobsTable, PresignSeconds, load_settings
from avatar_pipeline.slots import Slots, SlotsSettings
from avatar_pipeline.status import check_task
from avatar_pipeline.submission import submit_stage
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class Settings(ProviderSettings, PollSettings, SlotsSettings):
    jobs_table: JobsTable
    presign_seconds: PresignSeconds = 900
    deployment_id: DeploymentId


class CheckInput(BaseModel):
    job: Job
    media: ValidatedMedia
    task: ProviderTask
    execution_arn: str


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = CheckInput.model_validate(event)
    job, now = step.job, datetime.now(UTC)
    logger.append_keys(job_id=job.job_id, attempt=job.attempt, task_id=step.task.task_id)
    http = invocation_client(settings.provider_timeout_seconds, context)
    adapter = adapter_for(job.provider, settings, http)

    def next_stage(stage: str) -> TaskRef:
        store = JobStore(table=settings.jobs_table, dynamodb=aws.dynamodb())
        return submit_stage(
            job,
            stage,
            adapter=adapter,
            ledger=Ledger(store, job.job_id, job.attempt, step.execution_arn),
            inputs=lambda: presigned_inputs(step.media, aws.s3(), settings.presign_seconds),
            deployment_id=settings.deployment_id,
            now=now,
        )

    task = check_task(job, step.task, adapter=adapter, submit_stage=next_stage, policy=settings.policy(), now=now)
    if task.status == "succeeded":  # the provider's concurrency is free again: the next waiting job may use it
        Slots.from_settings(settings).free(job.provider, job.job_id, job.attempt)
    logger.info(
        "status checked",
        extra={"status": task.status, "polls": task.polls, "next_wait": task.next_wait_seconds, "stage": task.stage},
    )
    metrics.add_metric(name="StatusChecks", unit=MetricUnit.Count, value=1)
    return task.model_dump(mode="json")
