"""A job's whole life in the jobs table (contract: Job lifecycle), against moto DynamoDB and EventBridge:
claims, duplicates, conflicts, attempts, closing an attempt and publishing its outcome once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from avatar_pipeline.jobs import Claim, JobStore
from avatar_pipeline.models import JobRef, Origin, StepFailure
from avatar_pipeline.outcome import Outcomes

from .conftest import create_jobs_table

pytestmark = pytest.mark.integration

TABLE = "avatar-jobs"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:avatar:{name}"


def ref(job_id: str = "lesson-1", request: str | None = "hash-a", delivery: str = "event:e1") -> JobRef:
    origin = Origin(kind="event", delivery_id=delivery, event_id=delivery.removeprefix("event:"))
    return JobRef(job_id=job_id, origin=origin, provider="wavespeed/omnihuman-1.5", request_hash=request)


class Harness:
    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb")
        create_jobs_table(self.dynamodb, TABLE)
        self.sqs, events = boto3.client("sqs"), boto3.client("events")
        self.queue_url = self.sqs.create_queue(QueueName="outcomes")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="outcomes", EventPattern=json.dumps({"source": ["avatar.pipeline"]}))
        events.put_targets(Rule="outcomes", Targets=[{"Id": "queue", "Arn": queue_arn}])
        self.store = JobStore(TABLE, self.dynamodb)
        self.outcomes = Outcomes(store=self.store, events=events, event_bus="default")

    def item(self, job_id: str = "lesson-1") -> dict[str, Any]:
        found = self.store.get(job_id)
        assert found is not None
        return found

    def published(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]

    def fail(self, job: JobRef, execution: str, claim: Claim, error: str = "ProviderTaskFailed") -> dict[str, Any]:
        return self.outcomes.failed(
            job, claim, StepFailure(Error=error, Cause="the provider said no"), arn(execution), NOW
        )

    def succeed(self, job: JobRef, execution: str, attempt: int) -> dict[str, Any]:
        fields = {"output_uri": "s3://out/lesson-1/video.mp4", "result_uri": "s3://out/lesson-1/result.json"}
        return self.outcomes.succeeded(job, attempt, arn(execution), {**fields, "estimated_cost_usd": 0.3}, NOW)


@pytest.fixture
def harness(mocked_aws: None) -> Harness:
    return Harness()


# --- claims ---------------------------------------------------------------------------------------


def test_a_new_job_is_claimed_as_attempt_1(harness: Harness) -> None:
    claim = harness.store.claim(ref(), arn("x1"), NOW)
    assert (claim.outcome, claim.attempt, claim.status) == ("claimed", 1, "RUNNING")
    item = harness.item()
    assert (item["status"], item["attempt"], item["request_hash"]) == ("RUNNING", 1, "hash-a")
    assert item["origin"] == {"kind": "event", "delivery_id": "event:e1", "event_id": "e1"}
    assert item["execution_arn"] == arn("x1")


def test_the_same_request_while_running_or_succeeded_is_a_duplicate_that_names_the_job(harness: Harness) -> None:
    first = harness.store.claim(ref(), arn("x1"), NOW)
    running = harness.store.claim(ref(delivery="event:e2"), arn("x2"), NOW)
    assert (running.outcome, running.status, running.execution_arn) == ("duplicate", "RUNNING", arn("x1"))
    harness.succeed(ref(), "x1", first.attempt)
    done = harness.store.claim(ref(delivery="event:e3"), arn("x3"), NOW)
    assert (done.outcome, done.status, done.output_uri) == ("duplicate", "SUCCEEDED", "s3://out/lesson-1/video.mp4")
    assert harness.item()["execution_arn"] == arn("x1"), "the duplicate changed nothing"


def test_a_different_request_under_a_taken_id_is_refused_and_the_record_kept(harness: Harness) -> None:
    harness.store.claim(ref(), arn("x1"), NOW)
    before = harness.item()
    refused = harness.store.claim(ref(request="hash-b", delivery="event:e2"), arn("x2"), NOW)
    assert refused.outcome == "refused"
    assert refused.reason is not None
    assert "already RUNNING (attempt 1) with another request" in refused.reason
    assert harness.item() == before


def test_after_a_failure_the_same_id_is_a_new_attempt_even_with_another_request(harness: Harness) -> None:
    first = harness.store.claim(ref(), arn("x1"), NOW)
    harness.fail(ref(), "x1", first)
    second = harness.store.claim(ref(request="hash-b", delivery="event:e2"), arn("x2"), NOW)
    assert (second.outcome, second.attempt) == ("claimed", 2)
    item = harness.item()
    assert (item["status"], item["attempt"], item["request_hash"], item["execution_arn"]) == (
        "RUNNING",
        2,
        "hash-b",
        arn("x2"),
    )
    assert "error" not in item, "the new attempt starts clean"
    (history,) = item["attempts"]
    assert (history["attempt"], history["status"], history["request_hash"]) == (1, "FAILED", "hash-a")
    assert history["error"] == "ProviderTaskFailed"


def test_a_redelivered_trigger_is_a_duplicate_even_after_a_failure(harness: Harness) -> None:
    """An event arriving twice must not pay for a second attempt; a re-run is a new delivery."""
    first = harness.store.claim(ref(), arn("x1"), NOW)
    harness.fail(ref(), "x1", first)
    again = harness.store.claim(ref(), arn("x2"), NOW)
    assert (again.outcome, again.status) == ("duplicate", "FAILED")
    assert again.reason == "this trigger was already delivered and handled"


def test_a_retried_claim_of_the_same_execution_is_its_own_claim(harness: Harness) -> None:
    harness.store.claim(ref(), arn("x1"), NOW)
    assert harness.store.claim(ref(), arn("x1"), NOW).outcome == "claimed"


def test_a_claim_that_loses_a_race_reads_again(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    first = harness.store.claim(ref(), arn("x1"), NOW)
    harness.fail(ref(), "x1", first)
    real_update, raced = harness.store.update, []

    def racing_update(*args: Any, **kwargs: Any) -> Any:
        if not raced:  # another run starts attempt 2 just before this one's write
            raced.append(True)
            harness.store.claim(ref(request="hash-b", delivery="event:other"), arn("other"), NOW)
        return real_update(*args, **kwargs)

    monkeypatch.setattr(JobStore, "update", lambda self, *a, **k: racing_update(*a, **k))
    claim = harness.store.claim(ref(delivery="event:e2"), arn("x2"), NOW)
    assert (claim.outcome, claim.attempt, claim.execution_arn) == ("refused", 2, arn("other"))


def test_an_invalid_request_claims_a_fresh_id_but_never_an_active_job(harness: Harness) -> None:
    assert harness.store.claim(ref(job_id="new", request=None), arn("x1"), NOW).outcome == "claimed"
    harness.store.claim(ref(), arn("x2"), NOW)
    assert harness.store.claim(ref(request=None, delivery="event:e9"), arn("x3"), NOW).outcome == "refused"


# --- closing attempts and publishing outcomes ------------------------------------------------------


def test_success_closes_the_attempt_and_publishes_once(harness: Harness) -> None:
    claim = harness.store.claim(ref(), arn("x1"), NOW)
    detail = harness.succeed(ref(), "x1", claim.attempt)
    harness.succeed(ref(), "x1", claim.attempt)  # the step retried after a crash
    item = harness.item()
    assert (item["status"], item["output_uri"], item["estimated_cost_usd"]) == (
        "SUCCEEDED",
        "s3://out/lesson-1/video.mp4",
        0.3,
    )
    assert len(item["attempts"]) == 1
    events = harness.published()
    assert [event["detail-type"] for event in events] == ["Avatar Video Succeeded"]
    assert events[0]["detail"] == json.loads(json.dumps(detail))
    assert detail["attempt"] == 1
    assert detail["trigger"] == {"kind": "event", "event_id": "e1"}


def test_failure_closes_the_attempt_and_publishes_once(harness: Harness) -> None:
    claim = harness.store.claim(ref(), arn("x1"), NOW)
    harness.fail(ref(), "x1", claim)
    harness.fail(ref(), "x1", claim)
    assert harness.item()["status"] == "FAILED"
    (event,) = harness.published()
    assert event["detail"]["error"] == "ProviderTaskFailed"
    assert event["detail"]["job_id"] == "lesson-1"


def test_job_cancelled_closes_the_attempt_as_cancelled(harness: Harness) -> None:
    claim = harness.store.claim(ref(), arn("x1"), NOW)
    harness.fail(ref(), "x1", claim, error="JobCancelled")
    assert harness.item()["status"] == "CANCELLED"
    assert harness.store.claim(ref(delivery="event:e2"), arn("x2"), NOW).attempt == 2


def test_a_refused_run_publishes_its_failure_marked_conflict_and_touches_nothing(harness: Harness) -> None:
    claim = harness.store.claim(ref(), arn("x1"), NOW)
    harness.succeed(ref(), "x1", claim.attempt)
    harness.published()
    before = harness.item()
    refused = harness.store.claim(ref(request="hash-b", delivery="event:e2"), arn("x2"), NOW)
    detail = harness.fail(ref(request="hash-b", delivery="event:e2"), "x2", refused, error="InvalidRequest")
    assert harness.item() == before
    (event,) = harness.published()
    assert event["detail"] == json.loads(json.dumps(detail))
    assert detail["conflict"] == {"status": "SUCCEEDED", "attempt": 1}
    assert detail["attempt"] is None


def test_a_run_never_closes_an_attempt_it_does_not_own(harness: Harness) -> None:
    first = harness.store.claim(ref(), arn("x1"), NOW)
    harness.fail(ref(), "x1", first)
    harness.store.claim(ref(delivery="event:e2"), arn("x2"), NOW)
    # The first run's RecordFailure retried late: attempt 2 belongs to x2.
    assert harness.outcomes.close("lesson-1", 1, arn("x1"), "FAILED", {"error": "X", "cause": "y"}, NOW) is None
    assert harness.item()["status"] == "RUNNING"


def test_an_unanswered_submission_is_named_in_the_failure(harness: Harness) -> None:
    claim = harness.store.claim(ref(), arn("x1"), NOW)
    intent = {"stage": "generate", "state": "intent", "provider": "wavespeed/omnihuman-1.5", "external_id": "avp-1"}
    intent |= {"intent_at": NOW.isoformat(), "inputs": {"image": "s3://in/a.png"}}
    harness.store.update(
        "lesson-1",
        "SET submissions.#stage = :intent",
        condition=None,
        names={"#stage": "generate"},
        values={":intent": intent},
    )
    detail = harness.fail(ref(), "x1", claim, error="JobCancelled")
    assert detail["possible_provider_task"]["submitted_at"] == NOW.isoformat()
    assert detail["possible_provider_task"]["inputs"] == {"image": "s3://in/a.png"}


def test_the_record_finds_its_job_by_execution(harness: Harness) -> None:
    harness.store.claim(ref(), arn("x1"), NOW)
    found = harness.store.for_execution(arn("x1"))
    assert found is not None
    assert found["job_id"] == "lesson-1"
    assert harness.store.for_execution(arn("nobody")) is None


def test_open_jobs_lists_running_records_older_than_a_moment(harness: Harness) -> None:
    harness.store.claim(ref(), arn("x1"), NOW)
    harness.store.claim(ref(job_id="fresh"), arn("x2"), NOW + timedelta(minutes=10))
    assert harness.store.open_jobs((NOW + timedelta(minutes=5)).isoformat()) == ["lesson-1"]
