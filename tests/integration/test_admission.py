"""Provider admission against moto DynamoDB: slots never exceed the limit, waiters are woken oldest first, every way
out gives the slot back, a lost wake-up or a leaked slot is recovered; and the daily budget counts each attempt
once."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from avatar_pipeline.admission import POSITIONS_COUNTED, AdmissionStore
from avatar_pipeline.admitting import AdmissionState, requeue
from avatar_pipeline.budget import Budget, settle_spend
from avatar_pipeline.dispatch import dispatch
from avatar_pipeline.errors import BudgetExceeded, JobTimedOut
from avatar_pipeline.models import Job, JobRequest, MediaSource, S3Location
from avatar_pipeline.provider_accounts import account_of, parse_limits, slot_key
from avatar_pipeline.slots import Slots
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

TABLE = "avatar-admission"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class FakeSfn:
    """SendTaskSuccess as Step Functions answers it: once per live token; a token of a run that is gone fails."""

    def __init__(self) -> None:
        self.woken: list[str] = []
        self.gone: set[str] = set()

    def send_task_success(self, taskToken: str, output: str) -> None:
        if taskToken in self.gone or taskToken in self.woken:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "gone"}}, "SendTaskSuccess")
        self.woken.append(taskToken)


class Harness:
    def __init__(self, limit: int = 2) -> None:
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.store = AdmissionStore(TABLE, dynamodb, {"wavespeed": limit}, lease_seconds=3600)
        self.budget = Budget(TABLE, dynamodb, daily_usd=1.0)
        self.sfn = FakeSfn()

    def acquire(self, key: str, *, at: datetime = NOW) -> bool:
        return self.store.try_acquire("wavespeed", key, f"arn:exec:{key}", at, queue_first=True)

    def wait(self, key: str, since: str) -> int | None:
        return self.store.enqueue("wavespeed", key, f"token-{key}", f"arn:exec:{key}", since)

    def holders(self) -> set[str]:
        return set(self.store.slots("wavespeed")["holders"])


@pytest.fixture
def harness(mocked_aws: None) -> Harness:
    return Harness()


def test_limits_parse_and_accounts_are_shared_by_models() -> None:
    assert parse_limits("wavespeed=10, volcengine=2,kling=0") == {"wavespeed": 10, "volcengine": 2, "kling": 0}
    assert parse_limits("") == {}
    with pytest.raises(ValueError, match="account=N pairs"):
        parse_limits("wavespeed:10")
    assert account_of("wavespeed/hunyuan-avatar") == account_of("wavespeed/omnihuman-1.5") == "wavespeed"


def test_slots_are_taken_up_to_the_limit_and_given_back_once(harness: Harness) -> None:
    assert harness.acquire("a#1")
    assert harness.acquire("a#1"), "the holder asking again still holds"
    assert harness.acquire("b#1")
    assert not harness.acquire("c#1")
    assert harness.store.slots("wavespeed")["in_use"] == 2
    assert harness.store.release("wavespeed", "a#1")
    assert not harness.store.release("wavespeed", "a#1"), "idempotent: the second release frees nothing"
    assert harness.store.slots("wavespeed")["in_use"] == 1


def test_concurrent_admissions_never_exceed_the_limit(atomic_dynamodb: None, harness: Harness) -> None:
    won: list[str] = []

    def try_one(index: int) -> None:
        if harness.acquire(f"job-{index}#1"):
            won.append(f"job-{index}#1")

    threads = [threading.Thread(target=try_one, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 2
    assert harness.holders() == set(won)


def test_a_newcomer_does_not_jump_the_queue(harness: Harness) -> None:
    harness.acquire("a#1")
    harness.acquire("b#1")
    assert harness.wait("c#1", "2025-03-01T12:00:01") == 1
    harness.store.release("wavespeed", "a#1")
    assert not harness.acquire("d#1"), "c is waiting: d queues behind it even though a slot is free"


def test_a_queue_position_is_told_up_to_its_limit_then_only_the_wait(harness: Harness) -> None:
    harness.acquire("a#1")
    harness.acquire("b#1")
    positions = [harness.wait(f"w{n:03d}#1", f"2025-03-01T12:{n // 60:02d}:{n % 60:02d}") for n in range(102)]
    assert positions[:POSITIONS_COUNTED] == list(range(1, POSITIONS_COUNTED + 1))
    assert positions[POSITIONS_COUNTED:] == [None, None], "further back: not counted (queued_since tells the wait)"


def test_the_dispatcher_wakes_the_oldest_waiters_into_free_slots(harness: Harness) -> None:
    harness.acquire("a#1")
    harness.acquire("b#1")
    assert harness.wait("late#1", "2025-03-01T12:00:09") == 1
    assert harness.wait("early#1", "2025-03-01T12:00:01") == 1, "ordered by arrival, not by enqueue call"
    assert harness.wait("late#1", "2025-03-01T12:00:09") == 2, "a retried enqueue keeps its place"
    harness.store.release("wavespeed", "a#1")

    done = dispatch(harness.store, harness.sfn, ["wavespeed"], NOW)  # type: ignore[arg-type]

    assert (done.woken, harness.sfn.woken) == (1, ["token-early#1"])
    assert harness.holders() == {"b#1", "early#1"}
    assert "token" not in harness.store.slots("wavespeed")["holders"]["early#1"], "woken: its token is dropped"
    assert [w.key for w in harness.store.oldest_waiters("wavespeed", 5)] == ["late#1"]


def test_a_waiter_whose_execution_is_gone_gives_its_slot_to_the_next(harness: Harness) -> None:
    harness.acquire("a#1")
    harness.acquire("b#1")
    harness.wait("stopped#1", "2025-03-01T12:00:01")
    harness.wait("next#1", "2025-03-01T12:00:02")
    harness.sfn.gone.add("token-stopped#1")
    harness.store.release("wavespeed", "a#1")

    done = dispatch(harness.store, harness.sfn, ["wavespeed"], NOW)  # type: ignore[arg-type]

    assert (done.gone, harness.sfn.woken) == (1, ["token-next#1"])
    assert harness.holders() == {"b#1", "next#1"}


def test_a_lost_wake_up_is_sent_again_and_an_expired_lease_freed(harness: Harness) -> None:
    harness.acquire("a#1")
    harness.acquire("b#1")
    harness.wait("c#1", "2025-03-01T12:00:01")
    harness.store.release("wavespeed", "a#1")
    (waiter,) = harness.store.oldest_waiters("wavespeed", 1)
    assert harness.store.grant(waiter, NOW), "granted, then the dispatcher died before waking it"
    later = NOW + timedelta(minutes=1)
    assert dispatch(harness.store, harness.sfn, ["wavespeed"], later).woken == 1  # type: ignore[arg-type]
    assert harness.sfn.woken == ["token-c#1"]
    past_the_lease = NOW + timedelta(hours=2)
    assert dispatch(harness.store, harness.sfn, ["wavespeed"], past_the_lease).expired == 2  # type: ignore[arg-type]
    assert harness.holders() == set()


def test_release_also_takes_the_job_out_of_the_queue(harness: Harness) -> None:
    harness.acquire("a#1")
    harness.acquire("b#1")
    harness.wait("c#1", "2025-03-01T12:00:01")
    assert not harness.store.release("wavespeed", "c#1"), "it held no slot"
    assert harness.store.oldest_waiters("wavespeed", 5) == []


def test_an_unlimited_account_admits_everyone_and_holds_nothing(harness: Harness) -> None:
    for index in range(5):
        assert harness.store.try_acquire("kling", f"k{index}#1", "arn", NOW, queue_first=True)
    assert harness.store.slots("kling")["holders"] == {}


def test_slots_free_notifies_the_dispatcher_only_when_a_slot_was_freed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    slots = Slots(store=harness.store, dispatcher="dispatcher")
    monkeypatch.setattr(Slots, "notify", lambda self, account: asked.append(account))
    harness.acquire(slot_key("job-1", 1))
    slots.free("wavespeed/omnihuman-1.5", "job-1", 1)
    slots.free("wavespeed/omnihuman-1.5", "job-1", 1)
    slots.free("wavespeed/omnihuman-1.5", "never-admitted", 1)
    assert asked == ["wavespeed"]


def test_a_job_joining_the_queue_asks_the_dispatcher_only_if_a_slot_is_free(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    slots = Slots(store=harness.store, dispatcher="dispatcher")
    monkeypatch.setattr(Slots, "notify", lambda self, account: asked.append(account))
    harness.acquire("a#1")
    harness.acquire("b#1")
    harness.wait("c#1", "2025-03-01T12:00:01")
    slots.notify_if_free("wavespeed")
    assert asked == [], "both slots taken: whoever frees one hands it on"
    harness.store.release("wavespeed", "a#1")  # freed between c's AdmitJob and its joining the queue
    slots.notify_if_free("wavespeed")
    assert asked == ["wavespeed"]


def _job(attempt: int = 1) -> Job:
    return Job(
        job_id="job-1",
        provider="wavespeed/omnihuman-1.5",
        image=MediaSource(s3=S3Location(bucket="in", key="a.png")),
        audio=None,
        request=JobRequest(image="s3://in/a.png", options={}, audio="s3://in/a.wav"),
        trigger="console",
        requested_at=NOW,
        attempt=attempt,
    )


def test_a_throttled_job_backs_off_more_each_time_and_keeps_its_place(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots = Slots(store=harness.store, dispatcher="dispatcher")
    monkeypatch.setattr(Slots, "notify", lambda self, account: None)
    harness.acquire(slot_key("job-1", 1))
    state = AdmissionState(account="wavespeed", admitted=True)
    backoffs = []
    for _try in range(6):
        state = requeue(_job(), state, slots=slots, queue_timeout_seconds=3600, now=NOW, rng=random.Random(1))
        backoffs.append(state.backoff_seconds)
    assert harness.holders() == set(), "the slot went back"
    assert backoffs == sorted(backoffs)
    assert 1 <= backoffs[0] <= 2
    assert backoffs[-1] <= 60
    assert state.queued_since == NOW.isoformat()
    with pytest.raises(JobTimedOut, match="kept refusing"):
        requeue(_job(), state, slots=slots, queue_timeout_seconds=10, now=NOW + timedelta(seconds=30))


# --- budgets --------------------------------------------------------------------------------------


def test_max_cost_usd_refuses_an_estimate_over_it(harness: Harness) -> None:
    with pytest.raises(BudgetExceeded, match=r"estimated at \$0.3000, over its max_cost_usd \$0.25"):
        harness.budget.reserve("job-1#1", 0.3, 0.25, "job job-1", NOW)
    with pytest.raises(BudgetExceeded, match="no price"):
        harness.budget.reserve("job-1#1", None, 1.0, "job job-1", NOW)


def test_the_daily_budget_counts_each_attempt_once_and_refuses_what_does_not_fit(harness: Harness) -> None:
    assert harness.budget.reserve("a#1", 0.4, None, "a", NOW) == "2025-03-01"
    assert harness.budget.reserve("a#1", 0.4, None, "a", NOW) == "2025-03-01", "a retry or requeue: counted once"
    assert harness.budget.reserve("b#1", 0.4, None, "b", NOW) == "2025-03-01"
    with pytest.raises(BudgetExceeded, match=r"\$0.2000 left \(\$0.8000 reserved\); nothing was submitted"):
        harness.budget.reserve("c#1", 0.3, None, "c", NOW)
    assert harness.budget.reserve("a#2", 0.2, None, "a re-run", NOW), "a re-run is paid again, so counted again"
    assert harness.budget.reserve("c#1", 0.3, None, "c", NOW + timedelta(days=1)) == "2025-03-02", "a new day"


def test_an_attempt_that_submitted_nothing_gives_its_reservation_back_once(harness: Harness) -> None:
    harness.budget.reserve("job-1#1", 0.6, None, "job", NOW)
    record: dict[str, Any] = {"job_id": "job-1", "attempt": 1, "budget_day": "2025-03-01", "submissions": {}}
    settle_spend(harness.budget, record)
    settle_spend(harness.budget, record)
    assert harness.budget.reserve("job-2#1", 0.9, None, "job", NOW), "the 0.6 came back, once"
    with pytest.raises(BudgetExceeded):
        harness.budget.reserve("job-3#1", 0.2, None, "job", NOW)


def test_a_reported_cost_replaces_the_estimate(harness: Harness) -> None:
    harness.budget.reserve("job-1#1", 0.6, None, "job", NOW)
    record = {
        "job_id": "job-1",
        "attempt": 1,
        "budget_day": "2025-03-01",
        "submissions": {"generate": {"state": "accepted"}},
        "actual_cost_usd": 0.1,
    }
    settle_spend(harness.budget, record)
    assert harness.budget.reserve("job-2#1", 0.9, None, "job", NOW)
