"""Emitting the catalogue's metrics (``metric_catalogue``) as CloudWatch EMF on stdout: one blob per metric, with
exactly the catalogue's dimensions, so no other metric of the handler changes its dimension set. A metric never fails
a job: one that cannot be emitted is logged and dropped.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.exceptions import MetricValueError, SchemaValidationError

from .metric_catalogue import (
    DETECTION_LAG_SECONDS,
    ESTIMATED_SPEND_USD,
    GENERATION_SECONDS,
    JOBS_CANCELLED,
    JOBS_FAILED,
    JOBS_SUCCEEDED,
    OLDEST_QUEUED_SECONDS,
    QUEUE_WAIT_SECONDS,
    SLOT_LIMIT,
    SLOTS_IN_USE,
    MetricSpec,
)
from .observability import logger

NAMESPACE_VARIABLE = "POWERTOOLS_METRICS_NAMESPACE"
CANCELLED_ERROR = "JobCancelled"


def emit(spec: MetricSpec, value: float, dimension_value: str | None) -> None:
    """One EMF blob: ``spec``'s name and unit, ``value``, and its dimension (plus Powertools' ``service``)."""
    if not dimension_value or not os.environ.get(NAMESPACE_VARIABLE):
        return
    blob = io.StringIO()
    try:
        # Powertools prints the blob and its newline as two writes; one write keeps the line whole in a log that
        # other processes write to as well (the local stack's lambda_log).
        with (
            contextlib.redirect_stdout(blob),
            single_metric(
                name=spec.name,
                unit=MetricUnit(spec.unit),
                value=float(value),
                default_dimensions={spec.dimension: dimension_value},
            ),
        ):
            pass
    except (MetricValueError, SchemaValidationError, ValueError) as error:
        logger.warning("metric not emitted", extra={"metric": spec.name, "error": str(error)})
        return
    sys.stdout.write(blob.getvalue())
    sys.stdout.flush()


def outcome_published(succeeded: bool, detail: dict[str, Any]) -> None:
    """An attempt's outcome event was published (once per attempt): count it by outcome, and for a success record
    its generation time, detection lag and estimated spend (``detail``: the event's, with the timings and the cost
    PersistResult priced, with the stack's prices for providers that publish none)."""
    provider = detail.get("provider")
    if not succeeded:
        emit(JOBS_CANCELLED if detail.get("error") == CANCELLED_ERROR else JOBS_FAILED, 1, provider)
        return
    emit(JOBS_SUCCEEDED, 1, provider)
    timings = detail.get("timings") or {}
    # A provider clock slightly ahead of ours is not a negative time.
    generation, lag, spend = (
        timings.get("generation_seconds"),
        timings.get("detection_lag_seconds"),
        detail.get("estimated_cost_usd"),
    )
    if isinstance(generation, int | float):
        emit(GENERATION_SECONDS, max(0.0, generation), provider)
    if isinstance(lag, int | float):
        emit(DETECTION_LAG_SECONDS, max(0.0, lag), provider)
    if isinstance(spend, int | float):
        emit(ESTIMATED_SPEND_USD, spend, provider)


def admitted(provider: str, queued_since: str | None, now: datetime) -> None:
    """A job got its slot: how long it waited for it (0 when it never queued)."""
    waited = 0.0 if queued_since is None else (now - datetime.fromisoformat(queued_since)).total_seconds()
    emit(QUEUE_WAIT_SECONDS, max(0.0, waited), provider)


def account_state(account: str, *, in_use: int, limit: int, oldest_queued_since: str | None, now: datetime) -> None:
    """A provider account's slots as the dispatcher left them, and how long its oldest waiting job has waited."""
    oldest = 0.0
    if oldest_queued_since is not None:
        oldest = max(0.0, (now - datetime.fromisoformat(oldest_queued_since)).total_seconds())
    emit(SLOTS_IN_USE, in_use, account)
    emit(SLOT_LIMIT, limit, account)
    emit(OLDEST_QUEUED_SECONDS, round(oldest, 3), account)
