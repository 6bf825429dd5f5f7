"""Paid submissions are never repeated blindly and never left unrecorded (``submission.py`` + ``ledger.py``),
against moto DynamoDB, with provider adapters that answer, refuse, crash or go silent on demand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from avatar_pipeline.capabilities import WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.errors import JobCancelled, JobTimedOut, ProviderRejected, ProviderThrottled, ProviderUnavailable
from avatar_pipeline.jobs import JobStore
from avatar_pipeline.ledger import Ledger
from avatar_pipeline.models import Job, JobRef, JobRequest, MediaSource, Origin, ProviderTask, S3Location, StepFailure
from avatar_pipeline.outcome import Outcomes
from avatar_pipeline.polling import PollPolicy
from avatar_pipeline.providers.base import (
    ExternalIdTaken,
    PresignedInputs,
    ProviderAdapter,
    ResultLocation,
    TaskCheck,
    TaskRef,
)
from avatar_pipeline.providers.classify import SubmitOutcomeUnknown
from avatar_pipeline.status import check_task
from avatar_pipeline.submission import external_task_id, submit_stage

from .conftest import create_jobs_table

pytestmark = pytest.mark.integration

TABLE = "avatar-jobs"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ME = "arn:aws:states:us-east-1:123456789012:execution:avatar:me"
INPUTS = PresignedInputs("https://in/a.png?sig", "https://in/a.wav?sig", lambda uri: uri)
Behaviour = Callable[[str], TaskRef]


class FakeAdapter(ProviderAdapter):
    """Each ``submit`` runs the next queued behaviour; ``find`` answers from what was 'created' at the provider."""

    def __init__(self, *, finds: bool = False) -> None:
        self.capabilities = WAVESPEED_OMNIHUMAN_15
        self.finds_tasks_by_external_id = finds
        self.behaviours: list[Behaviour] = []
        self.sent: list[tuple[str, str]] = []  # (stage, external id) of every create request sent
        self.created: dict[str, str] = {}  # external id -> task id, as the provider knows them
        self.checks: list[TaskCheck] = []

    def accept(self, external_id: str) -> TaskRef:
        task_id = f"task-{len(self.created) + 1}"
        self.created[external_id] = task_id
        return TaskRef(task_id)

    def submit(
        self,
        job: Job,
        inputs: PresignedInputs,
        *,
        stage: str | None = None,
        external_id: str = "",
        callback_url: str | None = None,
    ) -> TaskRef:
        self.sent.append((stage or "generate", external_id))
        behaviour = self.behaviours.pop(0) if self.behaviours else self.accept
        return behaviour(external_id)

    def find(self, job: Job, *, stage: str, external_id: str, not_before: datetime) -> TaskRef | None:
        task_id = self.created.get(external_id)
        return TaskRef(task_id, stage) if task_id else None

    def check(self, job: Job, task: TaskRef) -> TaskCheck:
        return self.checks.pop(0)

    def result(self, job: Job, task: TaskRef) -> ResultLocation:
        raise AssertionError("not used")


def accepted_then_silent(adapter: FakeAdapter) -> Behaviour:
    """The provider creates the task, but its answer never arrives (a read timeout, a reset)."""

    def behaviour(external_id: str) -> TaskRef:
        adapter.accept(external_id)
        raise SubmitOutcomeUnknown("wavespeed did not answer the submit (ReadTimeout); it may have created the task")

    return behaviour


def raises(error: Exception) -> Behaviour:
    def behaviour(external_id: str) -> TaskRef:
        raise error

    return behaviour


class Harness:
    def __init__(self) -> None:
        dynamodb = boto3.client("dynamodb")
        create_jobs_table(dynamodb, TABLE)
        self.store = JobStore(TABLE, dynamodb)
        origin = Origin(kind="console", delivery_id="execution:me", execution_name="me")
        self.ref = JobRef(job_id="lesson-1", origin=origin, provider="wavespeed/omnihuman-1.5", request_hash="h")
        self.attempt = self.store.claim(self.ref, ME, NOW).attempt
        self.job = Job(
            job_id="lesson-1",
            provider="wavespeed/omnihuman-1.5",
            image=MediaSource(s3=S3Location(bucket="in", key="a.png")),
            audio=MediaSource(s3=S3Location(bucket="in", key="a.wav")),
            request=JobRequest(image="s3://in/a.png", audio="s3://in/a.wav"),
            trigger="console",
            requested_at=NOW,
            attempt=self.attempt,
        )

    def submit(self, adapter: FakeAdapter, stage: str = "generate", execution: str = ME) -> TaskRef:
        return submit_stage(
            self.job,
            stage,
            adapter=adapter,
            ledger=Ledger(self.store, "lesson-1", self.job.attempt, execution),
            inputs=lambda: INPUTS,
            deployment_id="stack-1",
            now=NOW,
        )

    def record(self) -> dict[str, Any]:
        item = self.store.get("lesson-1")
        assert item is not None
        return item


@pytest.fixture
def harness(mocked_aws: None) -> Harness:
    return Harness()


def test_the_intent_is_recorded_before_the_call_and_the_task_id_right_after(harness: Harness) -> None:
    adapter = FakeAdapter()
    seen: list[dict[str, Any]] = []

    def look_at_the_record(external_id: str) -> TaskRef:
        seen.append(harness.record()["submissions"]["generate"])
        return adapter.accept(external_id)

    adapter.behaviours.append(look_at_the_record)
    assert harness.submit(adapter) == TaskRef("task-1")
    assert seen[0]["state"] == "intent", "the intent is stored before the provider is called"
    assert seen[0]["inputs"] == {"image": "s3://in/a.png", "audio": "s3://in/a.wav"}
    record = harness.record()
    assert record["submissions"]["generate"]["state"] == "accepted"
    assert record["submissions"]["generate"]["task_id"] == record["provider_task_id"] == "task-1"


def test_a_retry_after_success_returns_the_recorded_task_without_paying(harness: Harness) -> None:
    adapter = FakeAdapter()
    first = harness.submit(adapter)
    assert harness.submit(adapter) == first
    assert len(adapter.sent) == 1


def test_a_crash_after_the_provider_accepted_is_never_resubmitted_blindly(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Lambda dies between the provider's answer and recording it: the retry finds only the intent."""
    adapter = FakeAdapter()
    monkeypatch.setattr(Ledger, "accepted", lambda *args: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        harness.submit(adapter)
    monkeypatch.undo()
    with pytest.raises(JobTimedOut) as caught:
        harness.submit(adapter)
    assert len(adapter.sent) == 1, "one paid task"
    assert "may have created a task for job lesson-1 attempt 1" in caught.value.cause
    assert "s3://in/a.png" in caught.value.cause
    record = harness.record()
    assert record["submissions"]["generate"]["state"] == "unknown"
    assert record["possible_provider_task"]["submitted_at"] == NOW.isoformat()
    assert record["possible_provider_task"]["inputs"]["audio"] == "s3://in/a.wav"


def test_an_unanswered_submit_ends_the_job_naming_the_possible_task(harness: Harness) -> None:
    adapter = FakeAdapter()
    adapter.behaviours.append(accepted_then_silent(adapter))
    with pytest.raises(JobTimedOut) as caught:
        harness.submit(adapter)
    assert "ReadTimeout" in caught.value.cause
    assert "It was not sent again" in caught.value.cause
    assert harness.record()["possible_provider_task"]["provider"] == "wavespeed/omnihuman-1.5"
    with pytest.raises(JobTimedOut):
        harness.submit(adapter)  # the step retried: still nothing sent
    assert len(adapter.sent) == 1


def test_where_the_provider_finds_tasks_the_retry_looks_up_and_adopts(harness: Harness) -> None:
    adapter = FakeAdapter(finds=True)
    adapter.behaviours.append(accepted_then_silent(adapter))
    with pytest.raises(ProviderUnavailable, match="looks it up before sending again"):
        harness.submit(adapter)
    assert harness.submit(adapter) == TaskRef("task-1")
    assert len(adapter.sent) == 1
    assert harness.record()["provider_task_id"] == "task-1"


def test_where_the_lookup_finds_nothing_it_is_sent_again_under_the_same_external_id(harness: Harness) -> None:
    adapter = FakeAdapter(finds=True)
    adapter.behaviours.append(raises(SubmitOutcomeUnknown("kling answered HTTP 504")))
    with pytest.raises(ProviderUnavailable):
        harness.submit(adapter)
    assert harness.submit(adapter) == TaskRef("task-1")
    assert [external for _, external in adapter.sent] == [adapter.sent[0][1]] * 2, "the provider refuses a second"
    assert adapter.sent[0][1] == external_task_id("stack-1", "lesson-1", 1, "generate")


def test_an_answered_refusal_may_be_sent_again(harness: Harness) -> None:
    adapter = FakeAdapter()
    adapter.behaviours.append(raises(ProviderThrottled("wavespeed submit answered HTTP 429")))
    with pytest.raises(ProviderThrottled):
        harness.submit(adapter)
    assert harness.record()["submissions"]["generate"]["state"] == "not_sent"
    assert harness.submit(adapter) == TaskRef("task-1")
    assert len(adapter.sent) == 2


def test_a_taken_external_id_is_adopted_when_it_is_this_attempts_task(harness: Harness) -> None:
    adapter = FakeAdapter(finds=True)

    def raced(external_id: str) -> TaskRef:
        adapter.accept(external_id)  # an earlier, unanswered send of this attempt created it
        raise ExternalIdTaken(ProviderRejected("kling submit answered code 1201: external_task_id already exists"))

    adapter.behaviours.append(raced)
    assert harness.submit(adapter) == TaskRef("task-1")


def test_a_taken_external_id_that_is_not_found_is_the_providers_refusal(harness: Harness) -> None:
    adapter = FakeAdapter(finds=True)
    adapter.behaviours.append(raises(ExternalIdTaken(ProviderRejected("code 1201: invalid parameter value"))))
    with pytest.raises(ProviderRejected, match="1201"):
        harness.submit(adapter)
    assert harness.record()["submissions"]["generate"]["state"] == "not_sent"


def test_a_cancelled_job_submits_nothing(harness: Harness) -> None:
    outcomes = Outcomes(store=harness.store, events=boto3.client("events"), event_bus="default")
    claim = harness.store.claim(harness.ref, ME, NOW)
    outcomes.failed(harness.ref, claim, StepFailure(Error="JobCancelled", Cause="stopped"), ME, NOW)
    adapter = FakeAdapter()
    with pytest.raises(JobCancelled, match="is CANCELLED; nothing was submitted"):
        harness.submit(adapter)
    assert adapter.sent == []


def test_a_run_that_lost_its_attempt_submits_nothing(harness: Harness) -> None:
    with pytest.raises(JobCancelled, match="no longer this run's"):
        harness.submit(FakeAdapter(), execution=ME + "-stale")


def test_a_task_paid_after_the_job_was_cancelled_is_still_recorded(harness: Harness) -> None:
    outcomes = Outcomes(store=harness.store, events=boto3.client("events"), event_bus="default")
    adapter = FakeAdapter()

    def cancelled_meanwhile(external_id: str) -> TaskRef:
        claim = harness.store.claim(harness.ref, ME, NOW)
        outcomes.failed(harness.ref, claim, StepFailure(Error="JobCancelled", Cause="stopped"), ME, NOW)
        return adapter.accept(external_id)

    adapter.behaviours.append(cancelled_meanwhile)
    harness.submit(adapter)
    record = harness.record()
    assert (record["status"], record["provider_task_id"]) == ("CANCELLED", "task-1")


def test_a_task_paid_after_a_new_attempt_began_is_kept_as_an_orphan(harness: Harness) -> None:
    outcomes = Outcomes(store=harness.store, events=boto3.client("events"), event_bus="default")
    adapter = FakeAdapter()

    def superseded_meanwhile(external_id: str) -> TaskRef:
        claim = harness.store.claim(harness.ref, ME, NOW)
        outcomes.failed(harness.ref, claim, StepFailure(Error="JobCancelled", Cause="stopped"), ME, NOW)
        rerun = harness.ref.model_copy(update={"origin": Origin(kind="console", delivery_id="execution:next")})
        harness.store.claim(rerun, ME + "-next", NOW)
        return adapter.accept(external_id)

    adapter.behaviours.append(superseded_meanwhile)
    harness.submit(adapter)
    (orphan,) = harness.record()["orphaned_tasks"]
    assert (orphan["attempt"], orphan["task_id"]) == (1, "task-1")


def test_external_ids_are_unique_to_deployment_job_attempt_and_stage() -> None:
    base = external_task_id("stack-1", "lesson-1", 1, "generate")
    others = [
        external_task_id("stack-2", "lesson-1", 1, "generate"),
        external_task_id("stack-1", "lesson-2", 1, "generate"),
        external_task_id("stack-1", "lesson-1", 2, "generate"),
        external_task_id("stack-1", "lesson-1", 1, "subject_check"),
    ]
    assert len({base, *others}) == 5
    assert base.startswith("avp-")
    assert len(base) <= 64


def test_a_follow_up_stage_submitted_by_check_status_is_paid_once_across_a_crash(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Volcengine's subject check passes, CheckStatus submits the video task, then dies before answering: the
    retried CheckStatus finds the video task recorded instead of paying for a second one."""
    adapter = FakeAdapter()
    task = ProviderTask(
        provider="wavespeed/omnihuman-1.5",
        task_id="subject-1",
        stage="subject_check",
        submitted_at=NOW,
        deadline=NOW + timedelta(hours=1),
        next_wait_seconds=1,
        estimated_generation_seconds=10,
    )

    def check() -> ProviderTask:
        adapter.checks.append(TaskCheck("running", "done", next_stage="generate"))
        return check_task(
            harness.job,
            task,
            adapter=adapter,
            submit_stage=lambda stage: harness.submit(adapter, stage),
            policy=PollPolicy(min_seconds=1, max_seconds=2),
            now=NOW,
        )

    first = check()
    again = check()  # the same step, retried: its answer was lost
    assert (first.task_id, first.stage) == (again.task_id, again.stage) == ("task-1", "generate")
    assert adapter.sent == [("generate", external_task_id("stack-1", "lesson-1", 1, "generate"))]
