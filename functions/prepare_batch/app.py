"""PrepareBatch: a batch file's S3 "Object Created" event → its rows as one JSON array for the Distributed Map."""

from __future__ import annotations

from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.batch_items import BatchIgnored
from avatar_pipeline.batches import batch_source, prepare_batch
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.settings import EnvSettings, InputBucket, load_settings
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class Settings(EnvSettings):
    input_bucket: InputBucket


class PrepareInput(BaseModel):
    event: Any
    execution_name: str


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = PrepareInput.model_validate(event)
    logger.append_keys(execution_name=step.execution_name)
    result = prepare_batch(aws.s3(), batch_source(step.event), input_bucket=settings.input_bucket)
    if isinstance(result, BatchIgnored):
        logger.info("trigger ignored", extra={"reason": result.ignored})
        return {"accepted": False, "ignored": result.ignored}
    logger.append_keys(batch_id=result.batch.batch_id)
    logger.info("batch prepared", extra={"source": result.batch.key, "rows": result.rows, "bad_rows": result.bad_rows})
    metrics.add_metric(name="BatchesPrepared", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BatchRows", unit=MetricUnit.Count, value=result.rows)
    metrics.add_metric(name="BatchBadRows", unit=MetricUnit.Count, value=result.bad_rows)
    return {"accepted": True, **result.model_dump(mode="json")}
