"""QueueJob (WaitForSlot's task, ``.waitForTaskToken``): the job waits for a slot of its provider account. Its token
is kept with its place in the queue, the record says QUEUED and where, and the dispatcher is asked to look if a slot
has come free since AdmitJob found none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.admitting import AdmissionState
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.jobs import JobStore
from avatar_pipeline.models import Job
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.provider_accounts import slot_key
from avatar_pipeline.settings import JobsTable, load_settings
from avatar_pipeline.slots import Slots, SlotsSettings
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class Settings(SlotsSettings):
    jobs_table: JobsTable


class QueueInput(BaseModel):
    token: str
    job: Job
    execution_arn: str
    admission: AdmissionState


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = QueueInput.model_validate(event)
    job, admission = step.job, step.admission
    logger.append_keys(job_id=job.job_id, attempt=job.attempt)
    slots = Slots.from_settings(settings)
    queued_since = admission.queued_since or datetime.now(UTC).isoformat()
    key = slot_key(job.job_id, job.attempt)
    position = slots.store.enqueue(admission.account, key, step.token, step.execution_arn, queued_since)
    queue: dict[str, Any] = {"account": admission.account, "queued_since": queued_since}
    if position is not None:
        queue["position"] = position
    JobStore(settings.jobs_table, aws.dynamodb()).update(
        job.job_id,
        "SET #status = :queued, queue = :queue, updated_at = :now",
        condition="attempt = :attempt AND execution_arn = :me AND #status IN (:running, :queued)",
        names={"#status": "status"},
        values={
            ":queued": "QUEUED",
            ":running": "RUNNING",
            ":queue": queue,
            ":now": datetime.now(UTC).isoformat(),
            ":attempt": job.attempt,
            ":me": step.execution_arn,
        },
    )
    slots.notify_if_free(admission.account)
    logger.info("queued for a provider slot", extra=queue)
    metrics.add_metric(name="JobsWaiting", unit=MetricUnit.Count, value=1)
    return queue
