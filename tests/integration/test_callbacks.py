"""Callback routes and resuming against moto DynamoDB (contract: Callbacks): a route's token is made once per job
attempt; the wait is resumed by whichever of the outcome and the wait's token comes second, once, and only for the
task the wait is for; the webhook's answers for everything that is not a genuine callback of a live route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from avatar_pipeline.callback_resume import resume
from avatar_pipeline.callbacks import CallbackOutcome, CallbackRecord, CallbackStore, callback_url
from avatar_pipeline.errors import ProviderUnavailable
from avatar_pipeline.models import ProviderTask
from avatar_pipeline.providers.base import CallbackDelivery, CallbackReport
from avatar_pipeline.providers.callback_signatures import ForgedCallback
from avatar_pipeline.webhook import WebhookContext, WebhookRequest, handle, parse_route
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

TABLE = "avatar-admission"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TASK = ProviderTask(
    provider="wavespeed/omnihuman-1.5",
    task_id="pred-1",
    submitted_at=NOW,
    deadline=NOW + timedelta(hours=3),
    next_wait_seconds=30,
    estimated_generation_seconds=28.0,
    callbacks=True,
)


class _Gone(ClientError):
    def __init__(self) -> None:
        super().__init__({"Error": {"Code": "TaskTimedOut", "Message": "gone"}}, "SendTaskSuccess")


class FakeSfn:
    """Task-token answers as Step Functions takes them: once per live token."""

    class exceptions:
        TaskTimedOut = _Gone
        InvalidToken = _Gone
        TaskDoesNotExist = _Gone

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send_task_success(self, taskToken: str, output: str) -> None:
        self._once(taskToken, "success", output)

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> None:
        self._once(taskToken, error, cause)

    def _once(self, token: str, kind: str, detail: str) -> None:
        if any(sent[0] == token for sent in self.sent):
            raise _Gone
        self.sent.append((token, kind, detail))


@pytest.fixture
def store(mocked_aws: None) -> CallbackStore:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return CallbackStore(TABLE, dynamodb)


def outcome(status: str = "succeeded", task_id: str = "pred-1") -> CallbackOutcome:
    return CallbackOutcome(
        task_id=task_id, status=status, cause="it failed" if status == "failed" else "", received_at=NOW
    )  # type: ignore[arg-type]


def test_a_route_is_made_once_per_attempt_and_its_url_carries_only_our_token(store: CallbackStore) -> None:
    token = store.route("wavespeed/omnihuman-1.5", "alice-1", 1, NOW)
    assert store.route("wavespeed/omnihuman-1.5", "alice-1", 1, NOW + timedelta(minutes=5)) == token
    assert store.route("wavespeed/omnihuman-1.5", "alice-1", 2, NOW) != token
    assert len(token) >= 40
    url = callback_url("https://hook.example/", "wavespeed/omnihuman-1.5", "alice-1", 1, token)
    assert url == f"https://hook.example/callbacks/wavespeed/alice-1/1/{token}"
    assert parse_route(url.removeprefix("https://hook.example")) is not None


@pytest.mark.parametrize("outcome_first", [True, False], ids=["callback before the wait", "wait before the callback"])
def test_whichever_comes_second_resumes_the_wait_once(store: CallbackStore, outcome_first: bool) -> None:
    sfn, freed = FakeSfn(), []
    store.route(TASK.provider, "alice-1", 1, NOW)
    steps = [lambda: store.settle("alice-1", 1, outcome()), lambda: store.arm("alice-1", 1, "token-1", TASK)]
    first, second = steps if outcome_first else steps[::-1]
    assert not resume(first(), sfn, task_done=freed.append)
    assert resume(second(), sfn, task_done=freed.append)

    duplicate = store.settle("alice-1", 1, outcome("failed"))
    assert not resume(duplicate, sfn, task_done=freed.append), "the token was answered: a duplicate changes nothing"
    assert duplicate.outcome is not None
    assert duplicate.outcome.status == "succeeded", "the first outcome stays"
    ((token, kind, output),) = sfn.sent
    resumed = ProviderTask.model_validate_json(output)
    assert (token, kind, resumed.status, resumed.detected_at) == ("token-1", "success", "succeeded", NOW)
    assert [task.task_id for task in freed] == ["pred-1"]


def test_the_providers_completion_time_in_a_callback_reaches_the_resumed_task(store: CallbackStore) -> None:
    finished = NOW - timedelta(seconds=2)
    store.route(TASK.provider, "alice-1", 1, NOW)
    store.arm("alice-1", 1, "token-1", TASK)
    sfn = FakeSfn()
    done = outcome().model_copy(update={"provider_completed_at": finished})
    assert resume(store.settle("alice-1", 1, done), sfn, task_done=lambda _task: None)
    resumed = ProviderTask.model_validate_json(sfn.sent[0][2])
    assert (resumed.provider_completed_at, resumed.detected_at) == (finished, NOW)


def test_a_failed_task_fails_the_wait_and_a_callback_for_another_task_resumes_nothing(store: CallbackStore) -> None:
    sfn: Any = FakeSfn()
    store.route(TASK.provider, "bob-1", 1, NOW)
    store.arm("bob-1", 1, "token-2", TASK)
    assert not resume(store.settle("bob-1", 1, outcome(task_id="someone-else")), sfn, task_done=lambda _t: None)
    assert sfn.sent == []

    store.route(TASK.provider, "carol-1", 1, NOW)
    store.arm("carol-1", 1, "token-3", TASK)
    assert resume(store.settle("carol-1", 1, outcome("failed")), sfn, task_done=lambda _t: None)
    assert sfn.sent == [("token-3", "ProviderTaskFailed", "it failed")]


class FakeAdapter:
    def __init__(self, report: CallbackReport | Exception) -> None:
        self.report, self.deliveries = report, []  # type: ignore[var-annotated]

    def read_callback(self, delivery: CallbackDelivery, *, now: datetime) -> CallbackReport:
        self.deliveries.append(delivery)
        if isinstance(self.report, Exception):
            raise self.report
        return self.report


def _context(store: CallbackStore, adapter: FakeAdapter, resumed: list[CallbackRecord]) -> WebhookContext:
    return WebhookContext(
        store=store,
        adapter=lambda _provider: adapter,  # type: ignore[arg-type,return-value]
        external_id=lambda job_id, attempt: f"ext-{job_id}-{attempt}",
        resume=lambda record: bool(resumed.append(record)) or True,
    )


def _request(path: str, method: str = "POST") -> WebhookRequest:
    return WebhookRequest(method, path, {"webhook-id": "m"}, b"{}")


@pytest.mark.parametrize(
    ("report", "status"),
    [
        (ForgedCallback("no webhook-signature matches the body"), 401),
        (ProviderUnavailable("kling answered HTTP 503"), 503),
        (CallbackReport("pred-1", "running"), 200),
    ],
    ids=["forged", "provider unreachable", "still running"],
)
def test_what_is_not_an_end_changes_nothing(
    store: CallbackStore, report: CallbackReport | Exception, status: int
) -> None:
    token = store.route(TASK.provider, "dave-1", 1, NOW)
    resumed: list[CallbackRecord] = []
    answer = handle(
        _request(f"/callbacks/wavespeed/dave-1/1/{token}"), _context(store, FakeAdapter(report), resumed), NOW
    )
    assert answer.status == status
    assert resumed == []
    record = store.load("dave-1", 1)
    assert record is not None
    assert record.outcome is None


def test_a_genuine_end_is_recorded_and_resumes(store: CallbackStore) -> None:
    token = store.route(TASK.provider, "erin-1", 2, NOW)
    adapter, resumed = FakeAdapter(CallbackReport("pred-1", "succeeded", reported_units=3.0)), []
    answer = handle(_request(f"/callbacks/wavespeed/erin-1/2/{token}"), _context(store, adapter, resumed), NOW)
    assert (answer.status, answer.message) == (200, "resumed")
    assert adapter.deliveries[0].external_id == "ext-erin-1-2"
    (record,) = resumed
    assert record.outcome == CallbackOutcome(task_id="pred-1", status="succeeded", reported_units=3.0, received_at=NOW)


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/callbacks/wavespeed/frank-1/1/{token}", "GET", 405),
        ("/callbacks/wavespeed/frank-1/1/wrong-token", "POST", 404),
        ("/callbacks/kling/frank-1/1/{token}", "POST", 404),
        ("/callbacks/wavespeed/frank-1/2/{token}", "POST", 404),
        ("/callbacks/wavespeed/nobody/1/{token}", "POST", 404),
        ("/callbacks/wavespeed/../1/{token}", "POST", 404),
        ("/elsewhere", "POST", 404),
    ],
    ids=["not a POST", "wrong token", "another account", "another attempt", "another job", "not a job id", "no route"],
)
def test_a_request_that_names_no_live_route_is_not_read(
    store: CallbackStore, path: str, method: str, status: int
) -> None:
    token = store.route(TASK.provider, "frank-1", 1, NOW)
    adapter = FakeAdapter(CallbackReport("pred-1", "succeeded"))
    answer = handle(_request(path.format(token=token), method), _context(store, adapter, []), NOW)
    assert answer.status == status
    assert adapter.deliveries == []
