"""PersistResult prices the finished job: result.json and the step's output carry the estimate for every provider
with a price (the stack's own for Volcengine and Kling), Kling's reported units and their USD, and the cost of one
output second; a re-run after everything was stored reads them back unchanged."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from avatar_pipeline.persistence import persist_result
from avatar_pipeline.pricing import PriceBook

from . import test_persistence as persistence_tests
from .test_persistence import LOOPBACK_ALLOWED, NOW, OUTPUT_BUCKET, FakeAdapter, MediaServer, Reply

# The media server, S3 and HTTP client of the persistence tests, and their reset between tests.
server, reset, s3, http = (
    persistence_tests.server,
    persistence_tests.reset,
    persistence_tests.s3,
    persistence_tests.http,
)

pytestmark = pytest.mark.integration

PRICES = PriceBook(per_second={"volcengine/omnihuman-1.5": 0.14, "kling/avatar": 0.1}, kling_usd_per_unit=0.5)


def persist(
    provider: str, server: MediaServer, s3: Any, http: httpx.Client, units: float | None, prices: PriceBook | None
) -> tuple[Any, dict[str, Any]]:
    job, task = persistence_tests.make_job().model_copy(update={"provider": provider}), persistence_tests.make_task()
    task = task.model_copy(update={"provider": provider, "reported_units": units})
    persisted = persist_result(
        job,
        task,
        persistence_tests.make_media(),
        adapter=FakeAdapter([f"{server.url}/v.mp4"]),
        s3=s3,
        http=http,
        output_bucket=OUTPUT_BUCKET,
        now=NOW,
        max_result_bytes=64 * 1024 * 1024,
        read_timeout_seconds=10.0,
        seconds_left=900.0,
        fetch_policy=LOOPBACK_ALLOWED,
        prices=prices,
    )
    result = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=persisted.result_key)["Body"].read())
    return persisted, result


def test_kling_gets_its_estimate_and_its_reported_cost(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    persisted, result = persist("kling/avatar", server, s3, http, units=0.3, prices=PRICES)
    seconds = persisted.duration_seconds
    assert seconds == pytest.approx(2.0, abs=0.1)
    assert result["estimated_cost_usd"] == round(0.1 * seconds, 4)
    assert (result["actual_units"], result["actual_cost_usd"]) == (0.3, 0.15)
    assert result["cost_per_output_second_usd"] == round(0.15 / seconds, 6), "the actual cost, where known"
    costs = (persisted.estimated_cost_usd, persisted.actual_units, persisted.actual_cost_usd)
    assert costs == (result["estimated_cost_usd"], 0.3, 0.15)

    again, _ = persist("kling/avatar", server, s3, http, units=0.3, prices=PRICES)
    assert again == persisted, "a re-run reads the costs back from result.json"


def test_volcengine_gets_the_stacks_price_and_no_actual_cost(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    persisted, result = persist("volcengine/omnihuman-1.5", server, s3, http, units=None, prices=PRICES)
    assert result["estimated_cost_usd"] == round(0.14 * persisted.duration_seconds, 4) is not None
    assert (result["actual_units"], result["actual_cost_usd"]) == (None, None)
    assert result["cost_per_output_second_usd"] == pytest.approx(0.14, abs=0.001)


def test_without_a_stack_price_the_cost_is_unknown_not_zero(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    persisted, result = persist("kling/avatar", server, s3, http, units=0.3, prices=None)
    assert (result["estimated_cost_usd"], result["actual_cost_usd"], result["cost_per_output_second_usd"]) == (
        None,
        None,
        None,
    )
    assert result["actual_units"] == persisted.actual_units == 0.3, "the units are recorded all the same"
