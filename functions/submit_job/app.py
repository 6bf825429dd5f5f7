"""Submit: create the paid provider task with presigned inputs, and schedule the first status check.

At most one provider task per job attempt: the intent is recorded in the jobs table before the call and the task
id right after it, so a Lambda retry, a re-run step or an answer lost after the provider accepted never pays for
a second task (see ``avatar_pipeline.submission``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from avatar_pipeline import aws, callbacks
from avatar_pipeline.callbacks import CallbackStore
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.estimates import EstimateStore
from avatar_pipeline.jobs import JobStore
from avatar_pipeline.ledger import Ledger
from avatar_pipeline.models import Job, ValidatedMedia
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.poll_settings import PollSettings
from avatar_pipeline.providers.http import invocation_client
from avatar_pipeline.providers.registry import ProviderSettings, adapter_for
from avatar_pipeline.settings import DeploymentId, JobsTable, PresignSeconds, load_settings
from avatar_pipeline.submission import submit_job
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field


class Settings(ProviderSettings, PollSettings):
    jobs_table: JobsTable
    admission_table: str = Field(alias="ADMISSION_TABLE")  # callback routes and learned estimates
    presign_seconds: PresignSeconds = 900
    deployment_id: DeploymentId
    webhook_url: str = Field(alias="WEBHOOK_URL")
    callbacks: Literal["enabled", "disabled"] = Field("enabled", alias="CALLBACKS")


class SubmitInput(BaseModel):
    job: Job
    media: ValidatedMedia
    execution_arn: str


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = SubmitInput.model_validate(event)
    job = step.job
    logger.append_keys(job_id=job.job_id, attempt=job.attempt)
    store = JobStore(table=settings.jobs_table, dynamodb=aws.dynamodb())
    http = invocation_client(settings.provider_timeout_seconds, context)
    now = datetime.now(UTC)

    def callback_url() -> str:
        token = CallbackStore(settings.admission_table, aws.dynamodb()).route(
            job.provider, job.job_id, job.attempt, now
        )
        return callbacks.callback_url(settings.webhook_url, job.provider, job.job_id, job.attempt, token)

    task = submit_job(
        job,
        step.media,
        adapter=adapter_for(job.provider, settings, http),
        ledger=Ledger(store, job.job_id, job.attempt, step.execution_arn),
        s3=aws.s3(),
        policy=settings.policy(),
        presign_seconds=settings.presign_seconds,
        deployment_id=settings.deployment_id,
        now=now,
        callback_url=callback_url if settings.callbacks == "enabled" else None,
        estimate_correction=EstimateStore(settings.admission_table, aws.dynamodb()).correction(job.provider),
    )
    logger.info(
        "provider task",
        extra={
            "provider": task.provider,
            "task_id": task.task_id,
            "stage": task.stage,
            "estimate": task.estimated_generation_seconds,
            "first_wait": task.next_wait_seconds,
            "callbacks": task.callbacks,
        },
    )
    metrics.add_dimension(name="provider", value=task.provider)
    metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
    return task.model_dump(mode="json")
