"""The alarms generated with the dashboard (``dashboard.py``) from the metric catalogue and the provider table: a
failure rate per provider id, jobs queued too long, and the day's estimated spend. Each notifies ``AlarmTopic``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from avatar_pipeline.capabilities import CAPABILITIES
from avatar_pipeline.metric_catalogue import ESTIMATED_SPEND_USD, JOBS_FAILED, JOBS_SUCCEEDED, OLDEST_QUEUED_SECONDS

if TYPE_CHECKING:
    from .dashboard import Metrics

TOPIC = {"Ref": "AlarmTopic"}
FAILURE_RATE_PERIOD = 900
QUEUE_PERIOD = 300
DAY = 86400


def logical_suffix(provider: str) -> str:
    """``wavespeed/omnihuman-1.5`` → ``WavespeedOmnihuman15``: a provider id as part of a logical id."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", provider) if part)


def _alarm(description: str, threshold: Any, queries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    properties = {
        "AlarmDescription": description,
        "AlarmActions": [TOPIC],
        "OKActions": [TOPIC],
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": threshold,
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
        "Metrics": queries,
    }
    return {"Type": "AWS::CloudWatch::Alarm", **extra, "Properties": properties}


def _query(query_id: str, stat: dict[str, Any]) -> dict[str, Any]:
    return {"Id": query_id, "MetricStat": stat, "ReturnData": False}


def failure_rate_alarm(m: Metrics, provider: str) -> dict[str, Any]:
    failed, succeeded = "failed", "succeeded"
    queries = [
        _query(failed, m.stat(JOBS_FAILED, provider, stat="Sum", period=FAILURE_RATE_PERIOD)),
        _query(succeeded, m.stat(JOBS_SUCCEEDED, provider, stat="Sum", period=FAILURE_RATE_PERIOD)),
        {
            "Id": "failure_rate",
            "Expression": f"100 * FILL({failed}, 0) / (FILL({failed}, 0) + FILL({succeeded}, 0))",
            "Label": f"{provider} failed jobs, % of ended (cancelled jobs not counted)",
            "ReturnData": True,
        },
    ]
    description = (
        f"More than FailureRateAlarmPercent % of {provider}'s jobs that ended in the last 15 minutes failed. "
        "See the jobs table's error and cause, and README 'Reading a failure'."
    )
    return _alarm(description, {"Ref": "FailureRateAlarmPercent"}, queries)


def queued_too_long_alarm(m: Metrics, accounts: list[str]) -> dict[str, Any]:
    ids = [f"oldest_{account}" for account in accounts]
    queries = [
        _query(query_id, m.stat(OLDEST_QUEUED_SECONDS, account, stat="Maximum", period=QUEUE_PERIOD))
        for query_id, account in zip(ids, accounts, strict=True)
    ]
    queries.append(
        {
            "Id": "oldest_minutes",
            "Expression": f"MAX([{', '.join(ids)}]) / 60",
            "Label": "minutes the oldest QUEUED job has waited, any provider account",
            "ReturnData": True,
        }
    )
    description = (
        "A job has waited QUEUED for a provider slot longer than QueuedTooLongMinutes. Check the account's slots "
        "on the dashboard, ProviderConcurrency, and jobs RUNNING much longer than their estimate."
    )
    return _alarm(description, {"Ref": "QueuedTooLongMinutes"}, queries)


def daily_spend_alarm(m: Metrics) -> dict[str, Any]:
    providers = sorted(CAPABILITIES)
    ids = [f"spend_{index}" for index in range(len(providers))]
    queries = [
        _query(query_id, m.stat(ESTIMATED_SPEND_USD, provider, stat="Sum", period=DAY))
        for query_id, provider in zip(ids, providers, strict=True)
    ]
    queries.append(
        {
            "Id": "spend_usd",
            "Expression": " + ".join(f"FILL({query_id}, 0)" for query_id in ids),
            "Label": "estimated spend of succeeded jobs over the last 24 h, USD",
            "ReturnData": True,
        }
    )
    description = (
        "The estimated spend of the jobs that succeeded in the last 24 hours is over DailySpendAlarmUsd "
        "(see DailyBudgetUsd to refuse jobs instead)."
    )
    return _alarm(description, {"Ref": "DailySpendAlarmUsd"}, queries, Condition="HasDailySpendAlarm")


def generated_alarms(m: Metrics, accounts: list[str]) -> dict[str, Any]:
    alarms = {
        f"FailureRateAlarm{logical_suffix(provider)}": failure_rate_alarm(m, provider)
        for provider in sorted(CAPABILITIES)
    }
    alarms["JobsQueuedTooLongAlarm"] = queued_too_long_alarm(m, accounts)
    alarms["DailySpendAlarm"] = daily_spend_alarm(m)
    return alarms
