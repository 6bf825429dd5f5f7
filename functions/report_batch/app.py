"""ReportBatch: once every row of a batch has ended, report.json + report.csv and Avatar Batch Completed."""

from __future__ import annotations

from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.batch_report import report_batch
from avatar_pipeline.batches import BatchSummary
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.settings import required_env
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = BatchSummary.model_validate(event)
    logger.append_keys(batch_id=summary.batch.batch_id)
    completed = report_batch(
        summary,
        s3=aws.s3(),
        dynamodb=aws.dynamodb(),
        events=aws.events(),
        input_bucket=required_env("INPUT_BUCKET"),
        output_bucket=required_env("OUTPUT_BUCKET"),
        jobs_table=required_env("JOBS_TABLE"),
        event_bus=required_env("EVENT_BUS_NAME"),
    )
    logger.info("batch reported", extra={"counts": completed.counts, "report_uri": completed.report_uri})
    metrics.add_metric(name="BatchesCompleted", unit=MetricUnit.Count, value=1)
    return completed.model_dump(mode="json")
