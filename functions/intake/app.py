"""Intake: S3 manifest event, pair drop, custom event or console input → one job, or its rejection."""

from __future__ import annotations

from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.intake import Ignored, take_trigger
from avatar_pipeline.models import S3Location
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.settings import EnvSettings, InputBucket, load_settings
from avatar_pipeline.storage import read_manifest
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field


class Settings(EnvSettings):
    input_bucket: InputBucket
    default_provider: str = Field(alias="DEFAULT_PROVIDER")


class IntakeInput(BaseModel):
    event: Any
    execution_name: str


def _read_manifest(location: S3Location, version_id: str | None, max_bytes: int) -> tuple[S3Location, bytes]:
    return read_manifest(aws.s3(), location, version_id, max_bytes)


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = IntakeInput.model_validate(event)
    result = take_trigger(
        step.event,
        execution_name=step.execution_name,
        input_bucket=settings.input_bucket,
        default_provider=settings.default_provider,
        read_manifest=_read_manifest,
    )
    if isinstance(result, Ignored):
        logger.info("trigger ignored", extra={"reason": result.ignored})
        return {"accepted": False, "ignored": result.ignored}
    logger.append_keys(job_id=result.ref.job_id)
    trigger = result.ref.origin.describe()
    if result.rejection is not None:
        logger.warning("request rejected", extra={"trigger": trigger, "cause": result.rejection.Cause})
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    else:
        logger.info("job accepted", extra={"provider": result.ref.provider, "trigger": trigger})
        metrics.add_metric(name="JobsAccepted", unit=MetricUnit.Count, value=1)
    return {"accepted": True, **result.model_dump(mode="json")}
