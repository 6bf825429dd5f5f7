"""PairDrop: an image or audio file arrived under drop/; start the job once its partner is there too."""

from __future__ import annotations

from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.pairs import find_pair, start_pair
from avatar_pipeline.settings import required_env
from avatar_pipeline.storage import existing_event_key
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    s3_event = parse(event=event, model=S3EventNotificationEventBridgeModel)
    bucket = s3_event.detail.bucket.name
    key = existing_event_key(aws.s3(), bucket, s3_event.detail.object.key)
    pair = find_pair(aws.s3(), bucket, key)
    if pair is None:
        logger.info("no complete pair yet", extra={"key": key})
        return {"started": False, "key": key}
    logger.append_keys(job_id=pair.job_id)
    started = start_pair(aws.stepfunctions(), required_env("STATE_MACHINE_ARN"), pair)
    logger.info("pair complete", extra={"image": pair.image.key, "audio": pair.audio.key, "started": started})
    metrics.add_metric(name="PairsStarted" if started else "PairsAlreadyStarted", unit=MetricUnit.Count, value=1)
    return {"started": started, "job_id": pair.job_id}
