"""Scheduled EventBridge rules fire on the local stack: the small project's ``rate(1 minute)`` rule, with its period
divided by ``AVATAR_LOCAL_SCHEDULE_SCALE``, invokes its Lambda target with a ``Scheduled Event``; events put on the
bus do not reach it (moto hands them to every rule without a pattern)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.small_stack import SmallStack, running_stack

SCALE = 120  # rate(1 minute) fires every half second


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallStack]:
    environment = {"AVATAR_LOCAL_SCHEDULE_SCALE": str(SCALE)}
    with running_stack(tmp_path_factory.mktemp("schedules"), environment) as running:
        yield running


def _ticks(stack: SmallStack, at_least: int, timeout: float) -> list[dict[str, Any]]:
    s3 = stack.client("s3")
    bucket = stack.info["output_bucket"]
    deadline = time.monotonic() + timeout
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="ticks/").get("Contents", [])]
        if len(keys) >= at_least or time.monotonic() > deadline:
            return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]
        time.sleep(0.1)


def test_a_rate_rule_invokes_its_lambda_target_every_scaled_period(stack: SmallStack) -> None:
    events = stack.client("events")
    rule = next(r for r in events.list_rules()["Rules"] if r.get("ScheduleExpression") == "rate(1 minute)")
    events.put_events(Entries=[{"Source": "test.bus", "DetailType": "Not A Schedule", "Detail": "{}"}])

    ticks = _ticks(stack, at_least=3, timeout=5)

    assert len(ticks) >= 3
    for tick in ticks:
        assert tick["source"] == "aws.events"
        assert tick["detail-type"] == "Scheduled Event"
        assert tick["resources"] == [rule["Arn"]]
        assert tick["detail"] == {}
        assert tick["account"] == "123456789012"
        assert tick["time"].endswith("Z")
    assert len({tick["id"] for tick in ticks}) == len(ticks)


def test_a_disabled_rule_stops_firing(stack: SmallStack) -> None:
    events = stack.client("events")
    rule = next(r for r in events.list_rules()["Rules"] if r.get("ScheduleExpression") == "rate(1 minute)")
    events.disable_rule(Name=rule["Name"])
    try:
        time.sleep(0.3)  # lets an invocation already under way land
        before = len(_ticks(stack, at_least=0, timeout=0))
        time.sleep(4 * 60 / SCALE)
        assert len(_ticks(stack, at_least=0, timeout=0)) == before
    finally:
        events.enable_rule(Name=rule["Name"])
