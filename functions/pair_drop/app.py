"""PairDrop: an image or audio file arrived under drop/; start the job once its partner is there too."""

from __future__ import annotations

from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.eventbridge import ObjectCreatedEvent
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.pairs import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, find_pair, media_kind, start_pair
from avatar_pipeline.settings import EnvSettings, load_settings
from avatar_pipeline.storage import existing_event_key
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field


class Settings(EnvSettings):
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN")


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    s3_event = ObjectCreatedEvent.model_validate(event)
    bucket = s3_event.detail.bucket.name
    key = existing_event_key(aws.s3(), bucket, s3_event.detail.object.key)
    kind = media_kind(key)
    if kind is None:
        accepted = ", ".join(sorted(IMAGE_EXTENSIONS | AUDIO_EXTENSIONS))
        logger.warning("not a pair drop file; ignored", extra={"key": key, "accepted_extensions": accepted})
        metrics.add_metric(name="DropsIgnored", unit=MetricUnit.Count, value=1)
        return {"started": False, "key": key, "ignored": f"{key} is not an image or audio file ({accepted})"}
    pair = find_pair(aws.s3(), bucket, key)
    if pair is None:
        partner = "audio" if kind[1] == "image" else "image"
        extensions = sorted(AUDIO_EXTENSIONS if partner == "audio" else IMAGE_EXTENSIONS)
        logger.warning(
            "no partner yet: the job starts when it arrives",
            extra={"key": key, "waiting_for": f"{kind[0]}.{{{','.join(e.lstrip('.') for e in extensions)}}}"},
        )
        return {"started": False, "key": key}
    logger.append_keys(job_id=pair.job_id)
    started = start_pair(aws.stepfunctions(), settings.state_machine_arn, pair)
    logger.info(
        "pair complete",
        extra={"image": pair.image.key, "audio": pair.audio.key, "execution": pair.execution_name, "started": started},
    )
    metrics.add_metric(name="PairsStarted" if started else "PairsAlreadyStarted", unit=MetricUnit.Count, value=1)
    return {"started": started, "job_id": pair.job_id}
