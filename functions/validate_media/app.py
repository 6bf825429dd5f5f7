"""ValidateMedia: the inputs exist, their content is what the provider accepts, and within its limits."""

from __future__ import annotations

from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.fetch import FetchPolicy
from avatar_pipeline.models import Job
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.providers.http import invocation_client
from avatar_pipeline.settings import (
    DEFAULT_TIMEOUT_SECONDS,
    AllowLoopback,
    EnvSettings,
    InputBucket,
    ProviderTimeoutSeconds,
    load_settings,
)
from avatar_pipeline.validation import validate_media
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel


class Settings(EnvSettings):
    input_bucket: InputBucket
    provider_timeout_seconds: ProviderTimeoutSeconds = DEFAULT_TIMEOUT_SECONDS
    allow_loopback_endpoints: AllowLoopback = False


class ValidateInput(BaseModel):
    job: Job


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = ValidateInput.model_validate(event)
    logger.append_keys(job_id=step.job.job_id)
    read_timeout = float(settings.provider_timeout_seconds)
    http = invocation_client(read_timeout, context)
    media = validate_media(
        step.job,
        aws.s3(),
        input_bucket=settings.input_bucket,
        http=http,
        fetch_policy=FetchPolicy(allow_loopback=settings.allow_loopback_endpoints),
        read_timeout_seconds=read_timeout,
    )
    logger.info("media validated", extra={"media": media.model_dump(mode="json", exclude_none=True)})
    metrics.add_metric(name="MediaValidated", unit=MetricUnit.Count, value=1)
    return media.model_dump(mode="json")
