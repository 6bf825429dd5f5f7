"""RecordOutcome: close the run's job attempt in the jobs table and publish Avatar Video Succeeded / Failed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from avatar_pipeline import aws
from avatar_pipeline.attempt_end import AttemptEnd, AttemptEndSettings
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.estimates import EstimateStore
from avatar_pipeline.job_ids import execution_ref
from avatar_pipeline.jobs import Claim, JobStore
from avatar_pipeline.models import Job, JobRef, PersistedResult, ProviderTask, StepFailure, ValidatedMedia
from avatar_pipeline.observability import logger, tracer
from avatar_pipeline.outcome import Outcomes, describe_failure
from avatar_pipeline.provider_accounts import slot_key
from avatar_pipeline.settings import EventBus, JobsTable, load_settings
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class Settings(AttemptEndSettings):
    jobs_table: JobsTable
    event_bus_name: EventBus


class RunState(BaseModel):
    """Whatever the execution had gathered when it ended; an early failure may have no job, or no ref."""

    ref: JobRef | None = None
    claim: Claim | None = None
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


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = OutcomeInput.model_validate(event)
    state, now = step.state, datetime.now(UTC)
    store = JobStore(table=settings.jobs_table, dynamodb=aws.dynamodb())
    outcomes = Outcomes(
        store=store, events=aws.events(), event_bus=settings.event_bus_name, on_end=AttemptEnd.from_settings(settings)
    )
    ref = state.ref or execution_ref(step.execution_name)
    logger.append_keys(job_id=ref.job_id)
    if step.outcome == "succeeded":
        if not (state.claim and state.task and state.output):
            raise ValueError("a succeeded run must carry its claim, task and output")
        output = state.output
        # What the provider reported charging (PersistResult priced it): only where it did.
        actual = {"actual_units": output.actual_units, "actual_cost_usd": output.actual_cost_usd}
        fields = {
            "provider_task_id": state.task.task_id,
            "output_uri": output.video_uri,
            "result_uri": output.result_uri,
            "duration_seconds": output.duration_seconds,
            "size_bytes": output.size_bytes,
            "estimated_cost_usd": output.estimated_cost_usd,
            **{name: value for name, value in actual.items() if value is not None},
            **({"timings": output.timings} if output.timings else {}),
        }
        detail = outcomes.succeeded(ref, state.claim.attempt, step.execution_arn, fields, now)
        estimates = EstimateStore(settings.admission_table, aws.dynamodb())
        learned = estimates.learn(state.task, slot_key(ref.job_id, state.claim.attempt), now)
        logger.info(
            "job succeeded",
            extra={"output_uri": output.video_uri, "attempt": state.claim.attempt, "learned_correction": learned},
        )
        return detail
    failure = describe_failure(state.error or StepFailure(Error="States.Runtime", Cause="no error was recorded"))
    claim = state.claim or store.claim(ref, step.execution_arn, now)
    detail = outcomes.failed(ref, claim, failure, step.execution_arn, now)
    logger.warning("job failed", extra={"error": failure.Error, "cause": failure.Cause, "claim": claim.outcome})
    return detail
