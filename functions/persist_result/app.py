"""PersistResult: stream the finished video into the output bucket and write result.json beside it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.aigc import AigcDefaults, AigcLabel, implicit_label
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.credentials import optional_credentials
from avatar_pipeline.fetch import FetchPolicy
from avatar_pipeline.models import Job, ProviderTask, ValidatedMedia
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.output_video import Finishing
from avatar_pipeline.persistence import DEFAULT_MAX_RESULT_BYTES, persist_result
from avatar_pipeline.pricing import PricingSettings
from avatar_pipeline.providers.http import invocation_client, time_left
from avatar_pipeline.providers.registry import ProviderSettings, adapter_for
from avatar_pipeline.settings import (
    AigcContentProducer,
    AigcContentPropagator,
    AigcLabelMode,
    AllowLoopback,
    OutputBucket,
    load_settings,
)
from avatar_pipeline.signed_output import SignerFunction
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field


class Settings(ProviderSettings, PricingSettings):
    output_bucket: OutputBucket
    max_result_bytes: int = Field(DEFAULT_MAX_RESULT_BYTES, alias="MAX_RESULT_BYTES", gt=0)
    allow_loopback_endpoints: AllowLoopback = False
    aigc_label: AigcLabelMode = "required"
    aigc_content_producer: AigcContentProducer
    aigc_content_propagator: AigcContentPropagator
    signer_function: str = Field(alias="SIGNER_FUNCTION", min_length=1)

    def finishing_for(self, job: Job) -> Finishing:
        """The label the job's video gets (none with AigcLabel=off) and, when the secret holds a C2PA certificate
        chain and key, its signer (SignVideo, which reads them itself)."""
        label: AigcLabel | None = None
        if self.aigc_label == "required":
            defaults = AigcDefaults(
                content_producer=self.aigc_content_producer, content_propagator=self.aigc_content_propagator
            )
            label = implicit_label(job, defaults)
        c2pa = optional_credentials(self.provider_secret_arn, "c2pa") or {}
        signer = None
        if c2pa.get("certificate_chain") and c2pa.get("private_key"):
            signer = SignerFunction(self.signer_function, generator=job.provider)
        return Finishing(label=label, signer=signer)


class PersistInput(BaseModel):
    job: Job
    task: ProviderTask
    media: ValidatedMedia


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    step = PersistInput.model_validate(event)
    logger.append_keys(job_id=step.job.job_id, task_id=step.task.task_id)
    read_timeout = float(settings.provider_timeout_seconds)
    http = invocation_client(read_timeout, context)
    persisted = persist_result(
        step.job,
        step.task,
        step.media,
        adapter=adapter_for(step.job.provider, settings, http),
        s3=aws.s3(),
        http=http,
        output_bucket=settings.output_bucket,
        now=datetime.now(UTC),
        max_result_bytes=settings.max_result_bytes,
        read_timeout_seconds=read_timeout,
        seconds_left=time_left(context)(),
        fetch_policy=FetchPolicy(allow_loopback=settings.allow_loopback_endpoints),
        finishing=settings.finishing_for(step.job),
        prices=settings.price_book(),
    )
    logger.info("result persisted", extra={"video_uri": persisted.video_uri, "size_bytes": persisted.size_bytes})
    metrics.add_metric(name="ResultBytesPersisted", unit=MetricUnit.Bytes, value=persisted.size_bytes)
    return persisted.model_dump(mode="json")
