"""``OutcomeStore``: the jobs table record and the outcome events, against moto DynamoDB and EventBridge."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from avatar_pipeline.models import (
    Job,
    JobRequest,
    MediaProbe,
    MediaSource,
    PersistedResult,
    ProviderTask,
    S3Location,
    ValidatedMedia,
)
from avatar_pipeline.outcome import Failure, OutcomeStore

pytestmark = pytest.mark.integration

TABLE = "avatar-jobs"
ME = "arn:aws:states:us-east-1:123456789012:execution:avatar:exec-1"
OTHER = "arn:aws:states:us-east-1:123456789012:execution:avatar:exec-2"
NOW = datetime(2025, 3, 1, 12, 5, tzinfo=UTC)


class Harness:
    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb")
        self.events = boto3.client("events")
        self.sqs = boto3.client("sqs")
        self.dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.queue_url = self.sqs.create_queue(QueueName="outcomes")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.events.put_rule(Name="outcomes", EventPattern=json.dumps({"source": ["avatar.pipeline"]}))
        self.events.put_targets(Rule="outcomes", Targets=[{"Id": "queue", "Arn": queue_arn}])
        self.store = OutcomeStore(table=TABLE, event_bus="default", dynamodb=self.dynamodb, events=self.events)

    def item(self, job_id: str) -> dict[str, str] | None:
        raw = self.dynamodb.get_item(TableName=TABLE, Key={"job_id": {"S": job_id}}, ConsistentRead=True).get("Item")
        return {name: value["S"] for name, value in raw.items()} if raw else None

    def claim(self, job_id: str, execution_arn: str) -> None:
        self.dynamodb.put_item(
            TableName=TABLE,
            Item={
                "job_id": {"S": job_id},
                "status": {"S": "RUNNING"},
                "provider": {"S": "wavespeed/omnihuman-1.5"},
                "trigger": {"S": "console"},
                "execution_arn": {"S": execution_arn},
                "claimed_at": {"S": "2025-03-01T12:00:00Z"},
            },
            ConditionExpression="attribute_not_exists(job_id)",
        )

    def published(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]


@pytest.fixture
def harness(mocked_aws: None) -> Harness:
    return Harness()


def make_job() -> Job:
    return Job(
        job_id="job-1",
        provider="wavespeed/omnihuman-1.5",
        image=MediaSource(s3=S3Location(bucket="in", key="a.png")),
        audio=MediaSource(s3=S3Location(bucket="in", key="a.wav")),
        request=JobRequest(image="s3://in/a.png", audio="s3://in/a.wav", job_id="job-1"),
        trigger="console",
        requested_at=NOW - timedelta(minutes=5),
    )


def make_task() -> ProviderTask:
    submitted = NOW - timedelta(minutes=4)
    return ProviderTask(
        provider="wavespeed/omnihuman-1.5",
        task_id="pred-9",
        status="succeeded",
        submitted_at=submitted,
        deadline=submitted + timedelta(hours=3),
        polls=3,
        next_wait_seconds=0,
        estimated_generation_seconds=15.0,
    )


def make_media() -> ValidatedMedia:
    return ValidatedMedia(
        image=MediaProbe(
            source="s3://in/a.png",
            location=S3Location(bucket="in", key="a.png"),
            format="png",
            size_bytes=10,
            width=8,
            height=8,
        )
    )


def make_output() -> PersistedResult:
    return PersistedResult(
        bucket="out",
        video_key="job-1/video.mp4",
        result_key="job-1/result.json",
        video_uri="s3://out/job-1/video.mp4",
        result_uri="s3://out/job-1/result.json",
        version_id="v1",
        size_bytes=1234,
        sha256="ab" * 32,
        duration_seconds=2.0,
        estimated_cost_usd=0.3,
        persisted_at=NOW,
    )


def test_success_is_recorded_and_published(harness: Harness) -> None:
    harness.claim("job-1", ME)
    detail = harness.store.record_success(
        make_job(), make_task(), make_media(), make_output(), execution_arn=ME, now=NOW
    )
    item = harness.item("job-1")
    assert item is not None
    assert item["status"] == "SUCCEEDED"
    assert item["output_uri"] == "s3://out/job-1/video.mp4"
    assert item["result_uri"] == "s3://out/job-1/result.json"
    assert item["provider_task_id"] == "pred-9"
    assert item["execution_arn"] == ME
    assert item["finished_at"] == NOW.isoformat()
    assert item["trigger"] == "console", "the claim's attributes are kept"
    assert json.loads(item["media"])["image"]["format"] == "png"

    [event] = harness.published()
    assert event["source"] == "avatar.pipeline"
    assert event["detail-type"] == "Avatar Video Succeeded"
    assert event["detail"] == detail
    assert {key: event["detail"][key] for key in ("job_id", "provider", "provider_task_id", "output_uri")} == {
        "job_id": "job-1",
        "provider": "wavespeed/omnihuman-1.5",
        "provider_task_id": "pred-9",
        "output_uri": "s3://out/job-1/video.mp4",
    }


def test_failure_is_recorded_and_published(harness: Harness) -> None:
    harness.claim("job-1", ME)
    failure = Failure(error="ProviderTaskFailed", cause="wavespeed task pred-9 failed: face not detected")
    detail = harness.store.record_failure(
        failure, job_id="job-1", provider="wavespeed/omnihuman-1.5", task_id="pred-9", execution_arn=ME, now=NOW
    )
    item = harness.item("job-1")
    assert item is not None
    assert item["status"] == "FAILED"
    assert item["error"] == "ProviderTaskFailed"
    assert item["cause"] == "wavespeed task pred-9 failed: face not detected"
    assert item["provider_task_id"] == "pred-9"
    assert item["finished_at"] == NOW.isoformat()

    [event] = harness.published()
    assert event["detail-type"] == "Avatar Video Failed"
    assert event["source"] == "avatar.pipeline"
    assert event["detail"] == detail
    assert event["detail"]["job_id"] == "job-1"
    assert event["detail"]["error"] == "ProviderTaskFailed"
    assert event["detail"]["cause"] == failure.cause


def test_early_failure_without_a_claim_creates_the_record(harness: Harness) -> None:
    failure = Failure(error="InvalidRequest", cause="image 'a.png' is a relative key")
    harness.store.record_failure(
        failure, job_id="execution-exec-1", provider=None, task_id=None, execution_arn=ME, now=NOW
    )
    item = harness.item("execution-exec-1")
    assert item == {
        "job_id": "execution-exec-1",
        "status": "FAILED",
        "error": "InvalidRequest",
        "cause": "image 'a.png' is a relative key",
        "finished_at": NOW.isoformat(),
        "execution_arn": ME,
        "published": "Avatar Video Failed",
    }
    [event] = harness.published()
    assert event["detail"]["provider"] is None
    assert event["detail"]["provider_task_id"] is None


def test_another_executions_job_is_left_untouched(harness: Harness) -> None:
    harness.claim("job-1", OTHER)
    before = harness.item("job-1")
    failure = Failure(error="InvalidRequest", cause="duplicate")
    with pytest.raises(RuntimeError, match="job job-1 belongs to another execution"):
        harness.store.record_failure(
            failure, job_id="job-1", provider="wavespeed/omnihuman-1.5", task_id=None, execution_arn=ME, now=NOW
        )
    with pytest.raises(RuntimeError, match="belongs to another execution"):
        harness.store.record_success(make_job(), make_task(), make_media(), make_output(), execution_arn=ME, now=NOW)
    assert harness.item("job-1") == before
    assert harness.published() == [], "nothing is announced for a job this execution does not own"


def test_recording_twice_from_the_same_execution_is_idempotent(harness: Harness) -> None:
    harness.claim("job-1", ME)
    failure = Failure(error="JobTimedOut", cause="deadline passed")
    for _ in range(2):
        harness.store.record_failure(
            failure, job_id="job-1", provider="wavespeed/omnihuman-1.5", task_id="pred-9", execution_arn=ME, now=NOW
        )
    item = harness.item("job-1")
    assert item is not None
    assert (item["status"], item["error"]) == ("FAILED", "JobTimedOut")


def test_a_retried_record_step_publishes_its_outcome_once(harness: Any) -> None:
    failure = Failure(error="ProviderTaskFailed", cause="generation failed")
    for _attempt in range(2):  # the step crashed after finishing and was run again
        harness.store.record_failure(
            failure, job_id="job-9", provider="wavespeed/omnihuman-1.5", task_id="t-9", execution_arn=ME, now=NOW
        )
    assert [event["detail-type"] for event in harness.published()] == ["Avatar Video Failed"]
    assert harness.item("job-9")["status"] == "FAILED"
