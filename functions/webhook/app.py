"""Webhook (a Lambda function URL, stack output ``WebhookUrl``): providers' callbacks, verified, recorded once, and
sent on to the wait of the job attempt they belong to (``avatar_pipeline.webhook``)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.callback_resume import resume
from avatar_pipeline.callbacks import CallbackRecord, CallbackStore
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.models import ProviderTask
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.providers.base import GENERATE, ProviderAdapter
from avatar_pipeline.providers.http import invocation_client
from avatar_pipeline.providers.registry import ProviderSettings, adapter_for
from avatar_pipeline.settings import DeploymentId, load_settings
from avatar_pipeline.slots import Slots, SlotsSettings
from avatar_pipeline.submission import external_task_id
from avatar_pipeline.webhook import WebhookContext, WebhookRequest, handle, parse_route
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext


class Settings(ProviderSettings, SlotsSettings):
    deployment_id: DeploymentId


def _request(event: dict[str, Any]) -> WebhookRequest:
    """The function URL's request (payload format 2.0). Read here, not with Powertools' ``LambdaFunctionUrlEvent``:
    its package imports every event class it has (about 12 ms of each cold start) for these four fields."""
    body = event.get("body") or ""
    return WebhookRequest(
        method=event["requestContext"]["http"]["method"],
        path=event["rawPath"],
        headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
        body=base64.b64decode(body) if event.get("isBase64Encoded") else body.encode(),
    )


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    request = _request(event)
    route = parse_route(request.path)
    if route is not None:
        logger.append_keys(job_id=route.job_id, attempt=route.attempt, account=route.account)
    http = invocation_client(settings.provider_timeout_seconds, context)
    slots = Slots.from_settings(settings)

    def adapter(provider: str) -> ProviderAdapter:
        return adapter_for(provider, settings, http)

    def resume_wait(record: CallbackRecord) -> bool:
        def task_done(task: ProviderTask) -> None:
            if route is not None:
                slots.free(task.provider, route.job_id, route.attempt)

        return resume(record, aws.stepfunctions(), task_done=task_done)

    context_ = WebhookContext(
        store=CallbackStore(settings.admission_table, aws.dynamodb()),
        adapter=adapter,
        external_id=lambda job_id, attempt: external_task_id(settings.deployment_id, job_id, attempt, GENERATE),
        resume=resume_wait,
    )
    answer = handle(request, context_, datetime.now(UTC))
    logger.info("callback answered", extra={"status": answer.status, "answer": answer.message})
    metrics.add_metric(name=f"Callbacks{answer.status}", unit=MetricUnit.Count, value=1)
    return {
        "statusCode": answer.status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": answer.message}),
    }
