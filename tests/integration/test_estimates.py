"""Learned generation times in the admission table (moto DynamoDB), and how Submit and CheckStatus use them."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import boto3
import pytest
from avatar_pipeline.estimates import EstimateStore
from avatar_pipeline.ledger import Ledger
from avatar_pipeline.models import MediaProbe, ProviderTask, S3Location, ValidatedMedia
from avatar_pipeline.polling import PollPolicy
from avatar_pipeline.providers.base import TaskCheck
from avatar_pipeline.status import check_task
from avatar_pipeline.submission import submit_job

from .conftest import create_admission_table
from .test_submission_ledger import ME, NOW, FakeAdapter, Harness

pytestmark = pytest.mark.integration

ADMISSION = "avatar-admission"
PROVIDER = "wavespeed/omnihuman-1.5"


@pytest.fixture
def store(mocked_aws: None) -> EstimateStore:
    dynamodb = boto3.client("dynamodb")
    create_admission_table(dynamodb, ADMISSION)
    return EstimateStore(ADMISSION, dynamodb)


def _done(seconds: float, profile: float = 100.0, provider: str = PROVIDER) -> ProviderTask:
    return ProviderTask(
        provider=provider,
        task_id="t",
        status="succeeded",
        submitted_at=NOW,
        deadline=NOW + timedelta(hours=3),
        next_wait_seconds=0,
        estimated_generation_seconds=profile,
        profile_estimate_seconds=profile,
        detected_at=NOW + timedelta(seconds=seconds),
        observed_generation_seconds=seconds,
    )


def _item(provider: str = PROVIDER) -> dict[str, Any]:
    found = boto3.client("dynamodb").get_item(
        TableName=ADMISSION, Key={"pk": {"S": f"estimate#{provider}"}, "sk": {"S": "estimate"}}
    )
    return dict(found["Item"])


def test_nothing_learned_means_the_profile(store: EstimateStore) -> None:
    assert store.correction(PROVIDER) == 1.0


def test_each_success_moves_its_providers_correction_and_submit_reads_it(store: EstimateStore) -> None:
    assert store.learn(_done(200.0), "job-1#1", NOW) == pytest.approx(1.5)
    assert store.learn(_done(200.0), "job-2#1", NOW) == pytest.approx(1.5 + 0.5 / 3)
    assert store.correction(PROVIDER) == pytest.approx(1.5 + 0.5 / 3)
    assert _item()["samples"] == {"N": "2"}
    # Models sharing an account keep their own: a WaveSpeed model learns nothing from another.
    assert store.correction("wavespeed/hunyuan-avatar") == 1.0


def test_a_retried_step_does_not_count_its_job_twice(store: EstimateStore) -> None:
    store.learn(_done(200.0), "job-1#1", NOW)
    assert store.learn(_done(200.0), "job-1#1", NOW) is None
    assert _item()["samples"] == {"N": "1"}


def test_a_job_without_a_reliable_time_writes_nothing(store: EstimateStore) -> None:
    unknown_length = _done(200.0).model_copy(update={"profile_estimate_seconds": None})
    assert store.learn(unknown_length, "job-1#1", NOW) is None
    assert store.correction(PROVIDER) == 1.0


def test_a_concurrent_update_is_not_lost(store: EstimateStore) -> None:
    """Another job's end writes between this one's read and write: the write is refused, read again, and both
    observations count."""
    other = EstimateStore(ADMISSION, boto3.client("dynamodb"))

    class Interfering:
        def __init__(self, client: Any) -> None:
            self.client, self.interfered = client, False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

        def update_item(self, **request: Any) -> Any:
            if not self.interfered:
                self.interfered = True
                other.learn(_done(50.0), "job-other#1", NOW)
            return self.client.update_item(**request)

    racing = EstimateStore(ADMISSION, Interfering(boto3.client("dynamodb")))  # type: ignore[arg-type]
    assert racing.learn(_done(200.0), "job-1#1", NOW) is not None
    assert _item()["samples"] == {"N": "2"}
    assert _item()["last_job"] == {"S": "job-1#1"}


def test_an_unreadable_or_unwritable_table_never_fails_a_job(mocked_aws: None) -> None:
    missing = EstimateStore("no-such-table", boto3.client("dynamodb"))
    assert missing.correction(PROVIDER) == 1.0
    assert missing.learn(_done(200.0), "job-1#1", NOW) is None


def _media(duration: float | None) -> ValidatedMedia:
    probe = {"source": "s3://in/a", "format": "png", "size_bytes": 64_000}
    return ValidatedMedia(
        image=MediaProbe(**probe, location=S3Location(bucket="in", key="a.png")),  # type: ignore[arg-type]
        audio=MediaProbe(
            source="s3://in/a.wav",
            location=S3Location(bucket="in", key="a.wav"),
            format="wav",
            size_bytes=64_000,
            duration_seconds=duration,
        ),
    )


@pytest.fixture
def harness(mocked_aws: None) -> Harness:
    return Harness()


def _submit(harness: Harness, adapter: FakeAdapter, duration: float | None, correction: float) -> ProviderTask:
    return submit_job(
        harness.job,
        _media(duration),
        adapter=adapter,
        ledger=Ledger(harness.store, "lesson-1", harness.job.attempt, ME),
        s3=boto3.client("s3"),
        policy=PollPolicy(jitter_ratio=0.0),
        presign_seconds=900,
        deployment_id="stack-1",
        now=NOW,
        estimate_correction=correction,
    )


def test_submit_corrects_the_profiles_estimate_and_keeps_the_profiles_own(harness: Harness) -> None:
    task = _submit(harness, FakeAdapter(), 100.0, 0.5)  # 6 s per audio second
    assert (task.profile_estimate_seconds, task.estimated_generation_seconds) == (600.0, 300.0)
    assert task.next_wait_seconds == 255, "85 % of the corrected estimate"


def test_audio_of_unknown_length_is_estimated_but_teaches_nothing(harness: Harness) -> None:
    task = _submit(harness, FakeAdapter(), None, 1.0)
    assert task.profile_estimate_seconds is None
    assert task.estimated_generation_seconds == 24.0, "64 kB at 16 kB/s: 4 s of audio"


def test_a_preparatory_stage_is_checked_soon_and_the_generation_after_it_is_waited_for(harness: Harness) -> None:
    """Volcengine's subject check comes first: its first check at PollMinSeconds; once the video task is submitted,
    the next check comes when the generation is expected to be done."""
    adapter = FakeAdapter()
    adapter.first_stage = lambda job: "subject_check"  # type: ignore[method-assign]
    task = _submit(harness, adapter, 100.0, 1.0)
    assert (task.stage, task.next_wait_seconds) == ("subject_check", 5)
    adapter.checks.append(TaskCheck("running", "done", next_stage="generate"))
    later = NOW + timedelta(seconds=5)
    following = check_task(
        harness.job,
        task,
        adapter=adapter,
        submit_stage=lambda stage: harness.submit(adapter, stage),
        policy=PollPolicy(),
        now=later,
        rng=random.Random(0),
    )
    assert following.stage == "generate"
    assert 459 <= following.next_wait_seconds <= 561, "85 % ± 10 % of the 600 s estimate"
    adapter.checks.append(TaskCheck("running", "generating"))
    again = check_task(
        harness.job,
        following,
        adapter=adapter,
        submit_stage=lambda stage: harness.submit(adapter, stage),
        policy=PollPolicy(jitter_ratio=0.0),
        now=later + timedelta(seconds=515),
    )
    assert again.next_wait_seconds == 36, "7 % of the 520 s spent since submission"
