"""ReportBatch: once every row of a batch has ended, report.json + report.csv and Avatar Batch Completed."""

from __future__ import annotations

from typing import Any

from avatar_pipeline import aws
from avatar_pipeline.batch_items import BatchSummary
from avatar_pipeline.batch_report import report_batch
from avatar_pipeline.coldstart import ends_cold_start
from avatar_pipeline.observability import logger, metrics, tracer
from avatar_pipeline.settings import EnvSettings, EventBus, InputBucket, JobsTable, OutputBucket, load_settings
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext


class Settings(EnvSettings):
    input_bucket: InputBucket
    output_bucket: OutputBucket
    jobs_table: JobsTable
    event_bus_name: EventBus


@ends_cold_start
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(Settings)
    summary = BatchSummary.model_validate(event)
    logger.append_keys(batch_id=summary.batch.batch_id)
    completed = report_batch(
        summary,
        s3=aws.s3(),
        dynamodb=aws.dynamodb(),
        events=aws.events(),
        input_bucket=settings.input_bucket,
        output_bucket=settings.output_bucket,
        jobs_table=settings.jobs_table,
        event_bus=settings.event_bus_name,
    )
    logger.info("batch reported", extra={"counts": completed.counts, "report_uri": completed.report_uri})
    metrics.add_metric(name="BatchesCompleted", unit=MetricUnit.Count, value=1)
    return completed.model_dump(mode="json")
