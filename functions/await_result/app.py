"""AwaitResult (WaitForProvider's task, ``.waitForTaskToken``): the execution waits for the provider, at most
``task.next_wait_seconds`` (then a status check). When the provider was told to call back, the wait's task token is
kept with the attempt's callback route, so the webhook can resume it; a callback that came before the wait began is
sent on here at once."""

from __future__ import annotations

from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.callback_resume import resume
from avatar_pipeline.callbacks import CallbackStore
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.models import Job, ProviderTask
from avatar_pipeline.observability import logger, tracer
from avatar_pipeline.settings import load_settings
from avatar_pipeline.slots import Slots, SlotsSettings
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class Settings(SlotsSettings):
    pass


class AwaitInput(BaseModel):
    token: str
    job: Job
    task: ProviderTask


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = AwaitInput.model_validate(event)
    job, task = step.job, step.task
    logger.append_keys(job_id=job.job_id, attempt=job.attempt, task_id=task.task_id)
    if not task.callbacks:
        return {"armed": False, "resumed": False}
    record = CallbackStore(settings.admission_table, aws.dynamodb()).arm(job.job_id, job.attempt, step.token, task)
    slots = Slots.from_settings(settings)
    resumed = resume(
        record, aws.stepfunctions(), task_done=lambda done: slots.free(done.provider, job.job_id, job.attempt)
    )
    logger.info("waiting for the provider", extra={"resumed_by_earlier_callback": resumed})
    return {"armed": True, "resumed": resumed}
