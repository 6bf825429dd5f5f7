"""Alarms that reach someone: every alarm notifies AlarmTopic, and the generated ones exist per provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from avatar_local.alarm_resources import logical_suffix
from avatar_local.template import expand, load_template
from avatar_pipeline.capabilities import CAPABILITIES

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = expand(ROOT / "template.yaml", {}, "us-east-1")
SOURCE = load_template(ROOT / "template.yaml")
ALARMS = {logical: r for logical, r in TEMPLATE.resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
TOPIC = {"Ref": "AlarmTopic"}


@pytest.mark.parametrize("logical", sorted(ALARMS))
def test_every_alarm_notifies_the_alarm_topic_when_it_fires_and_when_it_clears(logical: str) -> None:
    properties = ALARMS[logical]["Properties"]
    assert properties["AlarmActions"] == [TOPIC]
    assert properties["OKActions"] == [TOPIC]


def test_the_existing_alarms_are_all_there_with_the_new_ones() -> None:
    expected = {
        "ExecutionsFailedAlarm",
        "ExecutionsTimedOutAlarm",
        "ManifestDroppedDeadLettersAlarm",
        "VideoRequestedDeadLettersAlarm",
        "BatchDroppedDeadLettersAlarm",
        "PairDropDeadLettersAlarm",
        "ReconcileDeadLettersAlarm",
        "DispatchSlotsDeadLettersAlarm",
        "JobsQueuedTooLongAlarm",
        "DailySpendAlarm",
    } | {f"FailureRateAlarm{logical_suffix(provider)}" for provider in CAPABILITIES}
    assert set(ALARMS) == expected


def test_the_topic_is_encrypted_with_the_aws_managed_sns_key_and_cloudwatch_may_publish_to_it() -> None:
    topic = TEMPLATE.resources["AlarmTopic"]
    assert (topic["Type"], topic["Properties"]["KmsMasterKeyId"]) == ("AWS::SNS::Topic", "alias/aws/sns")
    policy = TEMPLATE.resources["AlarmTopicPolicy"]["Properties"]
    assert policy["Topics"] == [TOPIC]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert (statement["Action"], statement["Resource"]) == ("sns:Publish", TOPIC)
    assert TEMPLATE.outputs["AlarmTopicArn"]["Value"] == TOPIC


def test_an_email_subscription_only_when_alarm_email_is_set() -> None:
    assert SOURCE["Parameters"]["AlarmEmail"]["Default"] == ""
    subscription = TEMPLATE.resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {"TopicArn": TOPIC, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}
    assert SOURCE["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def _metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    return [query["MetricStat"] for query in alarm["Properties"]["Metrics"] if "MetricStat" in query]


def _dimension(stat: dict[str, Any], name: str) -> str:
    return next(d["Value"] for d in stat["Metric"]["Dimensions"] if d["Name"] == name)


@pytest.mark.parametrize("provider", sorted(CAPABILITIES))
def test_one_failure_rate_alarm_per_provider_id_failed_over_failed_plus_succeeded(provider: str) -> None:
    alarm = ALARMS[f"FailureRateAlarm{logical_suffix(provider)}"]
    properties = alarm["Properties"]
    stats = {query["Id"]: query.get("MetricStat") for query in properties["Metrics"]}
    assert {stat["Metric"]["MetricName"] for stat in stats.values() if stat} == {"JobsFailed", "JobsSucceeded"}
    assert all(_dimension(stat, "Provider") == provider for stat in stats.values() if stat)
    (returned,) = [query for query in properties["Metrics"] if query["ReturnData"]]
    assert returned["Expression"] == "100 * FILL(failed, 0) / (FILL(failed, 0) + FILL(succeeded, 0))"
    assert properties["Threshold"] == {"Ref": "FailureRateAlarmPercent"}


def test_jobs_queued_too_long_watches_every_provider_account_in_minutes() -> None:
    properties = ALARMS["JobsQueuedTooLongAlarm"]["Properties"]
    accounts = {_dimension(stat, "ProviderAccount") for stat in _metric_stats(ALARMS["JobsQueuedTooLongAlarm"])}
    assert accounts == {provider.split("/")[0] for provider in CAPABILITIES}
    assert properties["Threshold"] == {"Ref": "QueuedTooLongMinutes"}
    assert SOURCE["Parameters"]["QueuedTooLongMinutes"]["Default"] == 30
    (returned,) = [query for query in properties["Metrics"] if query["ReturnData"]]
    assert returned["Expression"].endswith("/ 60")


def test_the_daily_spend_alarm_sums_every_provider_over_a_day_and_exists_only_with_a_threshold() -> None:
    alarm = ALARMS["DailySpendAlarm"]
    assert alarm["Condition"] == "HasDailySpendAlarm"
    assert SOURCE["Conditions"]["HasDailySpendAlarm"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "DailySpendAlarmUsd"}, 0]}]
    }
    assert SOURCE["Parameters"]["DailySpendAlarmUsd"]["Default"] == 0
    stats = _metric_stats(alarm)
    assert {_dimension(stat, "Provider") for stat in stats} == set(CAPABILITIES)
    assert {(stat["Metric"]["MetricName"], stat["Period"], stat["Stat"]) for stat in stats} == {
        ("EstimatedSpendUsd", 86400, "Sum")
    }
    assert alarm["Properties"]["Threshold"] == {"Ref": "DailySpendAlarmUsd"}
