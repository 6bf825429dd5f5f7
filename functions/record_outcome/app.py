"""RecordOutcome: write the job's end to the jobs table and publish Avatar Video Succeeded / Failed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from avatar_pipeline import aws
from avatar_pipeline.models import Job, PersistedResult, ProviderTask, StepFailure, ValidatedMedia
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.outcome import OutcomeStore, describe_failure
from avatar_pipeline.settings import required_env
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class RunState(BaseModel):
    """Whatever the execution had gathered when it ended; early failures have no job yet."""

    job: Job | None = None
    media: ValidatedMedia | None = None
    task: ProviderTask | None = None
    output: PersistedResult | None = None
    error: StepFailure | None = None


class OutcomeInput(BaseModel):
    outcome: Literal["succeeded", "failed"]
    execution_arn: str
    execution_name: str
    state: RunState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = OutcomeInput.model_validate(event)
    state, now = step.state, datetime.now(UTC)
    store = OutcomeStore(
        table=required_env("JOBS_TABLE"),
        event_bus=required_env("EVENT_BUS_NAME"),
        dynamodb=aws.dynamodb(),
        events=aws.events(),
    )
    job_id = state.job.job_id if state.job else f"execution-{step.execution_name}"
    logger.append_keys(job_id=job_id)
    if step.outcome == "succeeded":
        if not (state.job and state.task and state.media and state.output):
            raise ValueError("a succeeded run must carry job, task, media and output")
        detail = store.record_success(
            state.job, state.task, state.media, state.output, execution_arn=step.execution_arn, now=now
        )
        metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
        logger.info("job succeeded", extra={"output_uri": state.output.video_uri})
        return detail
    failure = describe_failure(state.error or StepFailure(Error="States.Runtime", Cause="no error was recorded"))
    detail = store.record_failure(
        failure,
        job_id=job_id,
        provider=state.job.provider if state.job else None,
        task_id=state.task.task_id if state.task else None,
        execution_arn=step.execution_arn,
        now=now,
    )
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("job failed", extra={"error": failure.error, "cause": failure.cause})
    return detail
