"""The operator's questions (jobs list --status / --provider --since, costs --since) answered by Query alone, on the
jobs table as template.yaml declares it (moto): each index hands back every listed field, costs included, and
nothing of the per-attempt bulk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from avatar_pipeline.capabilities import CAPABILITIES
from avatar_pipeline.dynamo import from_item
from avatar_pipeline.job_listing import BY_PROVIDER, BY_STATUS, LISTED_FIELDS, query_index
from avatar_pipeline.jobs import JobStore
from avatar_pipeline.models import JobRef, Origin, StepFailure
from avatar_pipeline.outcome import Outcomes

from .conftest import create_jobs_table

pytestmark = pytest.mark.integration

TABLE = "avatar-jobs"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
KLING, VOLCENGINE, WAVESPEED = "kling/avatar", "volcengine/omnihuman-1.5", "wavespeed/omnihuman-1.5"
# Written by steps other than Claim and RecordOutcome, or kept per attempt: never in a listing.
UNLISTED = {"submissions", "attempts", "deliveries", "request_hash", "budget_day", "published", "size_bytes"}


def arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:avatar:{name}"


def ref(job_id: str, provider: str) -> JobRef:
    origin = Origin(kind="manifest", delivery_id=f"s3:in/jobs/{job_id}.json#v1", manifest=f"s3://in/jobs/{job_id}.json")
    return JobRef(job_id=job_id, origin=origin, provider=provider, request_hash=f"hash-{job_id}")


class Jobs:
    """Jobs taken through the steps that write their record: Claim, Admit's estimate, RecordOutcome."""

    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb")
        create_jobs_table(self.dynamodb, TABLE)
        self.store = JobStore(TABLE, self.dynamodb)
        self.outcomes = Outcomes(store=self.store, events=boto3.client("events"), event_bus="default")

    def start(self, job_id: str, provider: str, at: datetime, estimate: float | None = None) -> int:
        claim = self.store.claim(ref(job_id, provider), arn(job_id), at)
        self.store.update(
            job_id,
            "SET estimated_cost_usd = :estimate, budget_day = :day",
            condition=None,
            values={":estimate": estimate, ":day": at.date().isoformat()},
        )
        return claim.attempt

    def succeed(self, job_id: str, provider: str, at: datetime, **costs: float) -> None:
        attempt = self.start(job_id, provider, at, estimate=0.4)
        fields = {
            "provider_task_id": f"task-{job_id}",
            "output_uri": f"s3://out/{job_id}/video.mp4",
            "result_uri": f"s3://out/{job_id}/result.json",
            "duration_seconds": 4.0,
            "size_bytes": 72598,
            **costs,
        }
        self.outcomes.succeeded(ref(job_id, provider), attempt, arn(job_id), fields, at + timedelta(seconds=30))

    def fail(self, job_id: str, provider: str, at: datetime, error: str = "ProviderTaskFailed") -> None:
        attempt = self.start(job_id, provider, at, estimate=0.56)
        claim = self.store.claim(ref(job_id, provider), arn(job_id), at)  # its own claim, read again
        assert claim.attempt == attempt
        failure = StepFailure(Error=error, Cause="the provider reported the task failed")
        self.outcomes.failed(ref(job_id, provider), claim, failure, arn(job_id), at + timedelta(seconds=20))


@pytest.fixture
def jobs(mocked_aws: None) -> Jobs:
    made = Jobs()
    made.succeed("kling-ok", KLING, NOW, estimated_cost_usd=0.4, actual_units=0.8, actual_cost_usd=0.8)
    made.fail("volc-failed", VOLCENGINE, NOW + timedelta(minutes=1))
    made.succeed("wave-old", WAVESPEED, NOW - timedelta(days=3), estimated_cost_usd=0.6)
    made.start("wave-running", WAVESPEED, NOW + timedelta(minutes=2), estimate=0.6)
    return made


STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")


def list_jobs(
    jobs: Jobs, *, since: str, status: str | None = None, provider: str | None = None
) -> list[dict[str, Any]]:
    """The operator CLI's ``jobs list`` queries: by provider (claimed since), else by status (changed since)."""
    if provider is not None:
        found = query_index(jobs.dynamodb, TABLE, BY_PROVIDER, provider, since=since)
        return [job for job in found if status is None or job["status"] == status]
    listed = [
        job
        for each in ((status,) if status else STATUSES)
        for job in query_index(jobs.dynamodb, TABLE, BY_STATUS, each, since=since)
    ]
    return sorted(listed, key=lambda job: str(job["updated_at"]), reverse=True)


def costs(jobs: Jobs, *, since: str) -> list[dict[str, Any]]:
    """The operator CLI's ``costs`` query: every job claimed since, one Query per provider id."""
    return [job for provider in sorted(CAPABILITIES) for job in list_jobs(jobs, since=since, provider=provider)]


def query(jobs: Jobs, index: str, key: str, value: str, range_key: str, since: str) -> list[dict[str, Any]]:
    """The raw Query an operator's listing makes: nothing but the index."""
    found = jobs.dynamodb.query(
        TableName=TABLE,
        IndexName=index,
        KeyConditionExpression="#k = :v AND #r >= :since",
        ExpressionAttributeNames={"#k": key, "#r": range_key},
        ExpressionAttributeValues={":v": {"S": value}, ":since": {"S": since}},
    )
    return [from_item(item) for item in found["Items"]]


def test_the_status_index_lists_failed_jobs_with_their_error_cause_origin_and_estimate(jobs: Jobs) -> None:
    (failed,) = query(jobs, "status-updated_at-index", "status", "FAILED", "updated_at", NOW.isoformat())
    assert set(failed) == set(LISTED_FIELDS) - {"output_uri", "provider_task_id", "actual_units", "actual_cost_usd"} - {
        "duration_seconds"
    }, "a failed job has no output, no task and no reported cost; everything else is there"
    assert failed["job_id"] == "volc-failed"
    assert (failed["status"], failed["provider"], failed["attempt"]) == ("FAILED", VOLCENGINE, 1)
    assert (failed["error"], failed["cause"]) == ("ProviderTaskFailed", "the provider reported the task failed")
    assert failed["estimated_cost_usd"] == 0.56
    assert failed["origin"]["manifest"] == "s3://in/jobs/volc-failed.json"
    assert failed["execution_arn"] == arn("volc-failed")
    assert failed["claimed_at"] <= failed["updated_at"] == failed["finished_at"]
    assert not UNLISTED & set(failed)


def test_the_provider_index_lists_a_succeeded_job_with_all_its_costs(jobs: Jobs) -> None:
    (done,) = query(jobs, "provider-claimed_at-index", "provider", KLING, "claimed_at", NOW.isoformat())
    assert set(done) == set(LISTED_FIELDS) - {"error", "cause"}
    assert (done["job_id"], done["status"], done["output_uri"]) == (
        "kling-ok",
        "SUCCEEDED",
        "s3://out/kling-ok/video.mp4",
    )
    assert (done["estimated_cost_usd"], done["actual_units"], done["actual_cost_usd"]) == (0.4, 0.8, 0.8)
    assert (done["duration_seconds"], done["provider_task_id"]) == (4.0, "task-kling-ok")
    assert done["claimed_at"] == NOW.isoformat()
    assert not UNLISTED & set(done)


def test_since_bounds_each_index_by_its_own_time(jobs: Jobs) -> None:
    day_ago = (NOW - timedelta(days=1)).isoformat()
    week_ago = (NOW - timedelta(days=7)).isoformat()
    assert [j["job_id"] for j in list_jobs(jobs, since=day_ago, provider=WAVESPEED)] == ["wave-running"]
    assert [j["job_id"] for j in list_jobs(jobs, since=week_ago, provider=WAVESPEED)] == [
        "wave-running",
        "wave-old",
    ], "newest claim first"
    listed = list_jobs(jobs, since=week_ago, provider=WAVESPEED, status="SUCCEEDED")
    assert [j["job_id"] for j in listed] == ["wave-old"]
    assert [j["job_id"] for j in list_jobs(jobs, since=day_ago, status="FAILED")] == ["volc-failed"]
    assert [j["job_id"] for j in list_jobs(jobs, since=day_ago)] == [
        "wave-running",
        "volc-failed",
        "kling-ok",
    ], "every status, newest change first"


def test_costs_sum_from_the_provider_index_alone(jobs: Jobs) -> None:
    found = {j["job_id"]: j for j in costs(jobs, since=(NOW - timedelta(days=30)).isoformat())}
    assert set(found) == {"kling-ok", "volc-failed", "wave-old", "wave-running"}
    assert sum(j["estimated_cost_usd"] for j in found.values()) == pytest.approx(0.4 + 0.56 + 0.6 + 0.6)
    assert sum(j.get("actual_cost_usd") or 0 for j in found.values()) == pytest.approx(0.8)


def test_listing_never_scans(jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a listing must Query, never Scan")

    monkeypatch.setattr(jobs.dynamodb, "scan", no_scan)
    since = (NOW - timedelta(days=30)).isoformat()
    assert len(costs(jobs, since=since)) == 4
    assert len(list_jobs(jobs, since=since)) == 4


def test_the_reconcilers_sweep_still_finds_open_jobs_on_the_status_index(jobs: Jobs) -> None:
    later = (NOW + timedelta(minutes=10)).isoformat()
    assert jobs.store.open_jobs(later) == ["wave-running"]
    assert jobs.store.open_jobs(NOW.isoformat()) == []
    (running,) = query_index(jobs.dynamodb, TABLE, BY_STATUS, "RUNNING")
    assert (running["estimated_cost_usd"], running["provider"]) == (0.6, WAVESPEED)
    assert [item["job_id"] for item in query_index(jobs.dynamodb, TABLE, BY_PROVIDER, KLING, before=later)] == [
        "kling-ok"
    ]
