"""What the jobs table tells an operator, on the local stack: every job carries its costs (the estimate for every
provider with a price, Kling's reported cost in USD) and the output's length, result.json agrees, every entry point
leaves its trigger on the job, and the listing and cost indexes answer with Query alone."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from avatar_pipeline.job_listing import BY_PROVIDER, BY_STATUS, query_index

from .conftest import Stack, wait_until

pytestmark = pytest.mark.e2e

AUDIO_SECONDS = 2.5
# The template's defaults (VolcenginePriceUsdPerSecond, KlingPriceUsdPerSecond) and WaveSpeed's published price.
PRICE_PER_SECOND = {"wavespeed/omnihuman-1.5": 0.15, "volcengine/omnihuman-1.5": 0.14, "kling/avatar": 0.1}
KLING_USD_PER_UNIT = 1.0  # what the local stack sets (stack.py), as an account with a known unit price


def _listed(stack: Stack, *, since: str, status: str) -> list[dict[str, Any]]:
    """``jobs list --status S --since ...``: one Query on status-updated_at-index."""
    return list(query_index(stack.client("dynamodb"), stack.info["jobs_table"], BY_STATUS, status, since=since))


def _costs(stack: Stack, since: str) -> list[dict[str, Any]]:
    """``costs --since ...``: one Query per provider on provider-claimed_at-index."""
    dynamodb, table = stack.client("dynamodb"), stack.info["jobs_table"]
    return [
        job for provider in PRICE_PER_SECOND for job in query_index(dynamodb, table, BY_PROVIDER, provider, since=since)
    ]


def _result(stack: Stack, item: dict[str, Any]) -> dict[str, Any]:
    bucket, _, key = str(item["result_uri"])[len("s3://") :].partition("/")
    return dict(json.loads(stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_every_provider_records_its_costs_and_its_outputs_length(stack: Stack) -> None:
    since, run = datetime.now(UTC).isoformat(), uuid.uuid4().hex[:8]
    started = {}
    for provider in PRICE_PER_SECOND:
        image, audio = stack.upload_media(f"media/costs-{run}-{provider.split('/')[0]}", AUDIO_SECONDS)
        job_id = f"costs-{run}-{provider.split('/')[0]}"
        started[provider] = (
            job_id,
            stack.start({"provider": provider, "image": image, "audio": audio, "job_id": job_id}),
        )
    for provider, (job_id, execution_arn) in started.items():
        described = stack.wait_until_done(execution_arn)
        assert described["status"] == "SUCCEEDED", described
        item = stack.job_record(job_id)
        seconds = float(item["duration_seconds"])
        assert seconds == pytest.approx(AUDIO_SECONDS, abs=0.2)
        assert float(item["estimated_cost_usd"]) == pytest.approx(round(PRICE_PER_SECOND[provider] * seconds, 4))
        result = _result(stack, item)
        assert result["estimated_cost_usd"] == pytest.approx(float(item["estimated_cost_usd"]))
        if provider == "kling/avatar":
            units = float(item["actual_units"])
            assert units > 0
            assert float(item["actual_cost_usd"]) == pytest.approx(round(units * KLING_USD_PER_UNIT, 4))
            assert (result["actual_units"], result["actual_cost_usd"]) == (units, float(item["actual_cost_usd"]))
            assert result["cost_per_output_second_usd"] == pytest.approx(result["actual_cost_usd"] / seconds, abs=1e-5)
        else:
            assert "actual_cost_usd" not in item, "the provider reports no cost"
            assert "actual_units" not in item
            assert (result["actual_units"], result["actual_cost_usd"]) == (None, None)
            assert result["cost_per_output_second_usd"] == pytest.approx(PRICE_PER_SECOND[provider], abs=1e-4)
        execution_output = json.loads(described["output"])
        assert execution_output["estimated_cost_usd"] == pytest.approx(result["estimated_cost_usd"])

    # The cost report's query: one Query per provider on provider-claimed_at-index, with everything it sums.
    found = {str(job["job_id"]): job for job in _costs(stack, since) if str(job["job_id"]).startswith(f"costs-{run}-")}
    assert {job["provider"] for job in found.values()} == set(PRICE_PER_SECOND)
    for job in found.values():
        assert job["status"] == "SUCCEEDED"
        assert job["estimated_cost_usd"] is not None
        assert job["duration_seconds"] is not None
        assert (job.get("actual_cost_usd") is not None) is (job["provider"] == "kling/avatar")


def test_a_failed_job_is_listed_by_status_with_its_error_and_estimate(stack: Stack) -> None:
    since, job_id = datetime.now(UTC).isoformat(), f"fails-{uuid.uuid4().hex[:8]}"
    image, audio = stack.upload_media(f"media/{job_id}", AUDIO_SECONDS)
    stack.inject(operation="submit", fault="task_failed", times=1)
    described = stack.wait_until_done(stack.start({"image": image, "audio": audio, "job_id": job_id}))
    assert (described["status"], described["error"]) == ("FAILED", "ProviderTaskFailed")

    (listed,) = [job for job in _listed(stack, since=since, status="FAILED") if job["job_id"] == job_id]
    assert (listed["error"], listed["provider"], listed["attempt"]) == (
        "ProviderTaskFailed",
        "wavespeed/omnihuman-1.5",
        1,
    )
    assert "simulated generation failure" in listed["cause"]
    assert listed["provider_task_id"]
    assert listed["finished_at"]
    assert listed["execution_arn"]
    assert listed["estimated_cost_usd"] == pytest.approx(0.15 * AUDIO_SECONDS, abs=0.01), "the estimate admitted"
    assert listed["origin"]["kind"] == "console"


def test_every_entry_point_leaves_its_trigger_on_the_job(stack: Stack) -> None:
    s3, bucket, run = stack.client("s3"), stack.info["input_bucket"], uuid.uuid4().hex[:8]
    since = datetime.now(UTC).isoformat()
    # A manifest drop, next to its media.
    stack.upload_media(f"jobs/origin-{run}", AUDIO_SECONDS)
    manifest = f"jobs/origin-{run}/m-{run}.json"
    s3.put_object(Bucket=bucket, Key=manifest, Body=json.dumps({"image": "face.png", "audio": "voice.wav"}).encode())
    # A pair drop.
    image, audio = stack.upload_media(f"media/origin-{run}", AUDIO_SECONDS)
    for source, ext in ((image, "png"), (audio, "wav")):
        s3.copy_object(Bucket=bucket, Key=f"drop/p-{run}.{ext}", CopySource=source[len("s3://") :])
    # A custom event, a console execution, a batch row.
    sent = stack.client("events").put_events(
        Entries=[
            {
                "Source": "avatar.pipeline",
                "DetailType": "Avatar Video Requested",
                "Detail": json.dumps({"image": image, "audio": audio, "job_id": f"e-{run}"}),
            }
        ]
    )
    stack.start({"image": image, "audio": audio, "job_id": f"c-{run}"}, name=f"console-{run}")
    stack.upload_media(f"batches/origin-{run}", AUDIO_SECONDS)
    batch = f"batches/origin-{run}/b-{run}.jsonl"
    s3.put_object(Bucket=bucket, Key=batch, Body=json.dumps({"image": "face.png", "audio": "voice.wav"}).encode())

    def finished() -> dict[str, dict[str, Any]]:
        done = {str(job["job_id"]).split("-")[0]: job for job in _listed(stack, since=since, status="SUCCEEDED")}
        mine = {kind: job for kind, job in done.items() if run in str(job["job_id"])}
        return mine if len(mine) == 5 else {}

    jobs = wait_until(finished, timeout=240, what="a job from each entry point")
    completed = wait_until(
        lambda: [e for e in stack.batch_events(timeout=1) if e["detail"]["name"] == f"b-{run}"], what="the batch's end"
    )
    assert [e["detail"]["counts"]["SUCCEEDED"] for e in completed] == [1], "and the batch ended"
    assert set(jobs) == {"m", "p", "e", "c", "b"}
    origins = {kind: job["origin"] for kind, job in jobs.items()}
    assert origins["m"]["kind"] == "manifest"
    assert origins["m"]["manifest"] == f"s3://{bucket}/{manifest}"
    assert origins["p"]["kind"] == "pair"
    assert origins["p"]["pair"] == [f"s3://{bucket}/drop/p-{run}.png", f"s3://{bucket}/drop/p-{run}.wav"]
    assert origins["p"]["execution_name"]
    assert origins["e"] == {
        "kind": "event",
        "event_id": sent["Entries"][0]["EventId"],
        "delivery_id": f"event:{sent['Entries'][0]['EventId']}",
    }
    assert origins["c"] == {
        "kind": "console",
        "execution_name": f"console-{run}",
        "delivery_id": f"execution:console-{run}",
    }
    assert origins["b"]["kind"] == "batch"
    assert origins["b"]["batch"]["key"] == f"s3://{bucket}/{batch}"
    assert origins["b"]["batch"]["name"] == f"b-{run}"
    assert origins["b"]["batch"]["batch_id"]
    assert int(origins["b"]["row"]) == 1
    assert all(origin["delivery_id"] for origin in origins.values())
