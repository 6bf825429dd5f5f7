"""No dashboard widget is empty: the EMF blobs the handlers really printed on the local stack (its ``lambda_log``)
carry every metric the dashboard shows, with its exact dimension set, and every widget has data.

Runs its own jobs: one per provider id, one that fails at the provider, one stopped by hand (reconciled), and one
dispatcher run (the schedule's invocation), then reads the log. Also checks the timings those jobs recorded: the
provider's own completion time where its API reports one (WaveSpeed, Kling), our detection otherwise (Volcengine).
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from avatar_pipeline.providers.registry import CONTRACT_PROVIDER_IDS

from tests.dashboard_metrics import NAMESPACE, SERVICE_NAME, Shown, emitted_metrics, shown, widgets_from_template

from .conftest import Stack, wait_until

pytestmark = pytest.mark.e2e

PROVIDERS = CONTRACT_PROVIDER_IDS
REPORTS_COMPLETION = {"wavespeed/omnihuman", "wavespeed/omnihuman-1.5", "wavespeed/hunyuan-avatar", "kling/avatar"}


def _slug(provider: str) -> str:
    return provider.replace("/", "-").replace(".", "")


def _blobs(log: Path) -> list[dict[str, Any]]:
    """Every EMF blob in the handlers' log (a line holding ``{"_aws": ...}``, whatever precedes it)."""
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        start = line.find('{"_aws"')
        if start >= 0:
            found.append(json.loads(line[start:]))
    return found


def _dispatch_once(stack: Stack) -> None:
    """What the one-minute schedule does: invoke DispatchSlots with its scheduled event."""
    lambdas = stack.client("lambda")
    names = [f["FunctionName"] for f in lambdas.list_functions()["Functions"] if "DispatchSlots" in f["FunctionName"]]
    (name,) = names
    answer = lambdas.invoke(FunctionName=name, Payload=json.dumps({"source": "aws.events"}).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()


@pytest.fixture(scope="module")
def jobs(stack: Stack) -> dict[str, str]:
    """``job_id -> provider`` of the module's jobs, all ended."""
    httpx.delete(f"{stack.simulator}/_simulator/faults").raise_for_status()
    run = uuid.uuid4().hex[:8]
    image, audio = stack.upload_media(f"metrics/{run}")
    started = {}
    for provider in PROVIDERS:
        job_id = f"metrics-{_slug(provider)}-{run}"
        started[job_id] = (
            provider,
            stack.start({"provider": provider, "image": image, "audio": audio, "job_id": job_id}),
        )
    for _provider, execution_arn in started.values():
        assert stack.wait_until_done(execution_arn)["status"] == "SUCCEEDED"
    stack.inject("wavespeed", operation="submit", fault="task_failed", times=1)
    failing = f"metrics-failing-{run}"
    request = {"provider": "wavespeed/omnihuman-1.5", "image": image, "audio": audio, "job_id": failing}
    assert stack.wait_until_done(stack.start(request))["status"] == "FAILED"
    cancelled = f"metrics-cancelled-{run}"
    with stack.simulator_settings(task_seconds=30.0):
        execution_arn = stack.start({"provider": "kling/avatar", "image": image, "audio": audio, "job_id": cancelled})
        wait_until(lambda: stack.job_record(cancelled).get("provider_task_id"), what="a submitted task")
        stack.client("stepfunctions").stop_execution(executionArn=execution_arn)
        wait_until(lambda: stack.job_record(cancelled).get("status") == "CANCELLED", what="the reconciled record")
    _dispatch_once(stack)
    time.sleep(0.5)  # the log is written as the handlers print
    return {
        **{job_id: provider for job_id, (provider, _arn) in started.items()},
        failing: "wavespeed/omnihuman-1.5",
        cancelled: "kling/avatar",
    }


@pytest.fixture(scope="module")
def emitted(stack: Stack, jobs: dict[str, str]) -> set[Shown]:
    return emitted_metrics(_blobs(Path(stack.info["lambda_log"])))


def test_every_dashboard_metric_was_emitted_with_its_exact_dimension_set(emitted: set[Shown]) -> None:
    kinds = {(name, frozenset(key for key, _ in dimensions)) for _, name, dimensions in emitted}
    for widget in widgets_from_template():
        for _namespace, name, dimensions in shown(widget):
            assert (name, frozenset(key for key, _ in dimensions)) in kinds, (name, dict(dimensions))


def test_no_widget_is_empty(emitted: set[Shown]) -> None:
    empty = [
        widget["properties"]["title"]
        for widget in widgets_from_template()
        if widget["type"] == "metric" and not set(shown(widget)) & emitted
    ]
    assert not empty, f"widgets with no metric the handlers emitted: {empty}"


def _metric(name: str, dimension: str, value: str) -> Shown:
    return NAMESPACE, name, frozenset({(dimension, value), ("service", SERVICE_NAME)})


def test_each_outcome_was_counted_under_its_provider(emitted: set[Shown], jobs: dict[str, str]) -> None:
    for provider in PROVIDERS:
        assert _metric("JobsSucceeded", "Provider", provider) in emitted
        assert _metric("GenerationSeconds", "Provider", provider) in emitted
        assert _metric("QueueWaitSeconds", "Provider", provider) in emitted
        assert (_metric("DetectionLagSeconds", "Provider", provider) in emitted) == (provider in REPORTS_COMPLETION)
    assert _metric("JobsFailed", "Provider", "wavespeed/omnihuman-1.5") in emitted
    assert _metric("JobsCancelled", "Provider", "kling/avatar") in emitted, "the reconciler's path counts too"
    for account in ("wavespeed", "volcengine", "kling"):
        assert _metric("SlotsInUse", "ProviderAccount", account) in emitted
        assert _metric("OldestQueuedSeconds", "ProviderAccount", account) in emitted


def test_timings_come_from_the_providers_clock_where_its_api_reports_one(stack: Stack, jobs: dict[str, str]) -> None:
    s3 = stack.client("s3")
    for job_id, provider in jobs.items():
        record = stack.job_record(job_id)
        if record["status"] != "SUCCEEDED":
            continue
        result = json.loads(
            s3.get_object(Bucket=stack.info["output_bucket"], Key=f"{job_id}/result.json")["Body"].read()
        )
        timings = result["timings"]
        assert "generation_completed_at" not in timings
        assert {k: float(v) if isinstance(v, Decimal) else v for k, v in record["timings"].items()} == timings
        reported = provider in REPORTS_COMPLETION
        assert timings["generation_seconds_source"] == ("provider" if reported else "detected"), provider
        assert (timings["provider_completed_at"] is not None) == reported
        assert (timings["detection_lag_seconds"] is not None) == reported
        if reported:
            assert timings["submitted_at"] < timings["provider_completed_at"] <= timings["persisted_at"]
            assert -1.0 < timings["detection_lag_seconds"] < 30.0
        assert timings["submitted_at"] <= timings["detected_at"] <= timings["persisted_at"]
        assert 0 < timings["generation_seconds"] <= timings["total_seconds"]


def test_the_local_stack_made_the_topic_the_dashboard_and_alarms_that_notify_it(stack: Stack) -> None:
    """Created from the same template: AlarmEmail is empty and DailySpendAlarmUsd 0, so neither the subscription
    nor the spend alarm exists (Conditions)."""
    sns, cloudwatch = stack.client("sns"), stack.client("cloudwatch")
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"] if "AlarmTopic" in t["TopicArn"]]
    assert not sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    assert len(alarms) >= 8 + 5 + 1
    assert all(alarm["AlarmActions"] == [topic] for alarm in alarms)
    assert not [alarm for alarm in alarms if "DailySpendAlarm" in alarm["AlarmName"]]
    (dashboard,) = cloudwatch.list_dashboards()["DashboardEntries"]
    body = json.loads(cloudwatch.get_dashboard(DashboardName=dashboard["DashboardName"])["DashboardBody"])
    assert body["widgets"][1]["properties"]["region"] == stack.info["region"]
