"""Provider callbacks end to end (contract: Callbacks): WaveSpeed's signed webhook and Kling's callback_url resume
the job's wait through the local stack's webhook URL; every callback fault (lost, duplicated, delayed, badly signed,
replayed with an old timestamp) ends the job right, with one paid task.

A stack of its own, whose polling fallback waits 6 s: a job the callback resumes finishes without any status check,
so "resumed by the callback" is seen in the execution history, not guessed from timings."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import E2E_OVERRIDES, Stack, local_stack, wait_until

pytestmark = pytest.mark.e2e

FALLBACK_SECONDS = 6
CALLING_BACK = ["wavespeed/omnihuman-1.5", "kling/avatar"]


@pytest.fixture(scope="module")
def callback_stack(tmp_path_factory: pytest.TempPathFactory, call_log: Path | None) -> Iterator[Stack]:
    names = ("PollMinSeconds", "PollMaxSeconds", "PollFirstWaitMaxSeconds")
    overrides = [o for o in E2E_OVERRIDES if not o.startswith(names)]
    overrides += [f"{name}={FALLBACK_SECONDS}" for name in names]
    with local_stack(tmp_path_factory.mktemp("callback-stack"), overrides, call_log) as stack:
        yield stack


def _run(stack: Stack, provider: str) -> tuple[dict[str, Any], str, str]:
    folder = f"callbacks/{provider.replace('/', '-')}-{uuid.uuid4().hex[:8]}"
    image, audio = stack.upload_media(folder)
    job_id = f"cb-{uuid.uuid4().hex[:10]}"
    execution = stack.start({"job_id": job_id, "provider": provider, "image": image, "audio": audio})
    return stack.wait_until_done(execution, timeout=90), execution, folder


def _entered(stack: Stack, execution_arn: str) -> list[str]:
    history = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]


def _deliveries(stack: Stack, task_id: str) -> list[dict[str, Any]]:
    return [entry for entry in stack.simulator_stats()["callbacks"] if entry["task_id"] == task_id]


def _task_id(stack: Stack, folder: str) -> str:
    (submission,) = stack.submissions(folder)
    return str(submission["task_id"])


@pytest.mark.parametrize("provider", CALLING_BACK)
def test_a_callback_resumes_the_job_without_a_status_check(callback_stack: Stack, provider: str) -> None:
    described, execution, folder = _run(callback_stack, provider)

    assert described["status"] == "SUCCEEDED", described
    states = _entered(callback_stack, execution)
    assert "WaitForCallback" in states
    assert "CheckStatus" not in states, states
    # The whole run, Intake to the recorded success, in the transitions it costs.
    assert len(states) <= 12, states
    finals = [
        d
        for d in _deliveries(callback_stack, _task_id(callback_stack, folder))
        if d["status"] in ("completed", "succeed")
    ]
    assert [d["answered"] for d in finals] == [200]


def test_kling_calls_back_on_every_status_change_and_only_the_end_resumes(callback_stack: Stack) -> None:
    described, _, folder = _run(callback_stack, "kling/avatar")

    assert described["status"] == "SUCCEEDED", described
    deliveries = _deliveries(callback_stack, _task_id(callback_stack, folder))
    assert [d["status"] for d in deliveries] == ["submitted", "processing", "succeed"]
    assert all(d["answered"] == 200 for d in deliveries)


@pytest.mark.parametrize("provider", CALLING_BACK)
def test_a_lost_callback_costs_the_polling_fallback_only(callback_stack: Stack, provider: str) -> None:
    callback_stack.inject(provider.split("/")[0], operation="callback", fault="lost")

    described, execution, folder = _run(callback_stack, provider)

    assert described["status"] == "SUCCEEDED", described
    assert "CheckStatus" in _entered(callback_stack, execution)
    assert len(callback_stack.submissions(folder)) == 1


@pytest.mark.parametrize("provider", CALLING_BACK)
def test_a_duplicated_callback_changes_nothing_the_first_did_not(callback_stack: Stack, provider: str) -> None:
    callback_stack.inject(provider.split("/")[0], operation="callback", fault="duplicated")

    described, execution, folder = _run(callback_stack, provider)

    assert described["status"] == "SUCCEEDED", described
    assert "CheckStatus" not in _entered(callback_stack, execution)
    assert len(callback_stack.submissions(folder)) == 1
    task_id = _task_id(callback_stack, folder)

    def finals() -> list[dict[str, Any]]:
        found = [d for d in _deliveries(callback_stack, task_id) if d["status"] in ("completed", "succeed")]
        return found if len(found) >= 2 else []

    wait_until(finals, timeout=10, what="the duplicate delivered")
    assert [d["answered"] for d in finals()] == [200, 200]
    job = callback_stack.job_record(json.loads(described["output"])["job_id"])
    assert job["status"] == "SUCCEEDED"
    assert job["attempt"] == 1


def test_a_delayed_callback_still_resumes_the_job(callback_stack: Stack) -> None:
    callback_stack.inject("wavespeed", operation="callback", fault="delayed", seconds=2)

    described, execution, folder = _run(callback_stack, "wavespeed/omnihuman-1.5")

    assert described["status"] == "SUCCEEDED", described
    assert "CheckStatus" not in _entered(callback_stack, execution)
    assert len(callback_stack.submissions(folder)) == 1


def test_a_badly_signed_callback_is_refused_and_the_fallback_finishes_the_job(callback_stack: Stack) -> None:
    callback_stack.inject("wavespeed", operation="callback", fault="bad_signature")

    described, execution, folder = _run(callback_stack, "wavespeed/omnihuman-1.5")

    assert described["status"] == "SUCCEEDED", described
    assert "CheckStatus" in _entered(callback_stack, execution)
    forged = [d for d in _deliveries(callback_stack, _task_id(callback_stack, folder)) if d["fault"] == "bad_signature"]
    assert forged
    assert {d["answered"] for d in forged} == {401}
    assert len(callback_stack.submissions(folder)) == 1


def test_a_replayed_callback_with_an_old_timestamp_is_refused(callback_stack: Stack) -> None:
    callback_stack.inject("wavespeed", operation="callback", fault="replayed")

    described, execution, folder = _run(callback_stack, "wavespeed/omnihuman-1.5")

    assert described["status"] == "SUCCEEDED", described
    assert "CheckStatus" not in _entered(callback_stack, execution)
    task_id = _task_id(callback_stack, folder)
    replays = wait_until(
        lambda: [d for d in _deliveries(callback_stack, task_id) if d["fault"] == "replayed"],
        timeout=10,
        what="the replay delivered",
    )
    assert {d["answered"] for d in replays} == {401}
    assert len(callback_stack.submissions(folder)) == 1


@pytest.mark.parametrize("provider", CALLING_BACK)
def test_a_failed_task_s_callback_fails_the_job_at_once(callback_stack: Stack, provider: str) -> None:
    callback_stack.inject(provider.split("/")[0], operation="submit", fault="task_failed")

    described, execution, folder = _run(callback_stack, provider)

    assert described["status"] == "FAILED"
    assert described.get("error") == "ProviderTaskFailed", described
    assert "simulated generation failure" in described.get("cause", ""), "the provider's reason reaches the cause"
    assert "CheckStatus" not in _entered(callback_stack, execution)
    assert len(callback_stack.submissions(folder)) == 1


def test_forged_callbacks_change_nothing(callback_stack: Stack) -> None:
    url = callback_stack.info["webhook_url"].rstrip("/")
    body = {"id": "x", "status": "completed", "outputs": ["https://example.invalid/v.mp4"]}
    for path in ("/callbacks/wavespeed/nobody/1/guess", "/elsewhere", "/callbacks/kling/../../x/1/t"):
        assert httpx.post(url + path, json=body).status_code == 404
    assert httpx.get(url + "/callbacks/wavespeed/nobody/1/guess").status_code == 405


def test_neither_token_reaches_the_logs(callback_stack: Stack) -> None:
    _, _, folder = _run(callback_stack, "wavespeed/omnihuman-1.5")
    table = next(name for name in callback_stack.client("dynamodb").list_tables()["TableNames"] if "Admission" in name)
    items = callback_stack.client("dynamodb").scan(TableName=table)["Items"]
    routes = [item for item in items if item["pk"]["S"].startswith("callback#")]
    assert routes
    log = Path(callback_stack.info["lambda_log"]).read_text(encoding="utf-8")
    for item in routes:
        assert item["path_token"]["S"] not in log
        if "task_token" in item:
            assert item["task_token"]["S"] not in log
    assert _task_id(callback_stack, folder)
