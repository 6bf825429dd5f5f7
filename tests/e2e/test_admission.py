"""Provider admission on the local stack (contract: Provider admission, BudgetExceeded): the stack's
ProviderConcurrency is wavespeed=3 (tests/e2e/conftest.py), and the simulator enforces the account's own limit."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from avatar_local.samples import portrait_png, speech_audio

from .conftest import Stack, wait_until

pytestmark = pytest.mark.e2e

LIMIT = 3
PROVIDER = "wavespeed/omnihuman-1.5"
FIRST_ROUND_TASK_SECONDS = 10.0


def start_jobs(stack: Stack, folder: str, job_ids: list[str], **request: Any) -> dict[str, str]:
    image, audio = stack.upload_media(folder)
    return {
        job_id: stack.start({"provider": PROVIDER, "image": image, "audio": audio, "job_id": job_id, **request}, job_id)
        for job_id in job_ids
    }


def wait_all(stack: Stack, executions: dict[str, str], timeout: float) -> dict[str, dict[str, Any]]:
    sfn, ended = stack.client("stepfunctions"), {}
    deadline = time.monotonic() + timeout
    while len(ended) < len(executions) and time.monotonic() < deadline:
        for job_id, arn in executions.items():
            if job_id not in ended:
                described = sfn.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING":
                    ended[job_id] = described
        time.sleep(0.5)
    assert len(ended) == len(executions), f"still running: {sorted(set(executions) - set(ended))}"
    return ended


def states_entered(stack: Stack, execution_arn: str) -> list[str]:
    history = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]


def test_thirty_jobs_against_a_limit_of_three_all_succeed_without_exceeding_it(stack: Stack) -> None:
    run = uuid.uuid4().hex[:8]
    folder = f"admission/thirty-{run}"
    job_ids = [f"thirty-{run}-{n:02d}" for n in range(30)]
    # Tasks of earlier tests still generating (a cancelled job's task runs on at the provider) share the account.
    wait_until(lambda: stack.simulator_stats()["providers"]["wavespeed"]["in_flight"] == 0, what="the account idle")
    # The first tasks take long enough for the three slots' submissions to meet at the provider however slowly this
    # machine runs the steps before them (with the stack's 1 s tasks, a slow run could submit each round's three
    # more than a second apart and never have three in flight at once); the rest take the stack's 1 s.
    first_round = {"wavespeed": FIRST_ROUND_TASK_SECONDS}
    with stack.simulator_settings(concurrency={"wavespeed": LIMIT}, task_seconds_by_provider=first_round):
        httpx.delete(f"{stack.simulator}/_simulator/stats").raise_for_status()
        executions = start_jobs(stack, folder, job_ids)
        wait_until(
            lambda: stack.simulator_stats()["providers"]["wavespeed"]["in_flight"] == LIMIT,
            timeout=120,
            what="the three slots' tasks in flight at the provider at once",
        )
        stack_default = {"task_seconds_by_provider": {"wavespeed": None}}
        httpx.post(f"{stack.simulator}/_simulator/settings", json=stack_default).raise_for_status()
        ended = wait_all(stack, executions, timeout=420)
        account = stack.simulator_stats()["providers"]["wavespeed"]

    assert {job_id: d["status"] for job_id, d in ended.items()} == dict.fromkeys(job_ids, "SUCCEEDED")
    assert account["peak_in_flight"] == LIMIT, "the three slots were used, and never a fourth"
    assert account["refused_limit"] == 0, "the provider never had to refuse: the queue kept within its limit"
    submitted = [s["task_id"] for s in stack.submissions(folder)]
    assert len(submitted) == len(set(submitted)) == 30, "one paid submission per job"
    records = [stack.job_record(job_id) for job_id in job_ids]
    assert {(r["status"], r["attempt"]) for r in records} == {("SUCCEEDED", 1)}
    # How many waited depends on how the starts interleave with the ends (a job whose Admit comes after a slot
    # came free takes it at once); with 30 jobs on 3 slots some must have waited their turn as QUEUED.
    waited = [float(r["queued_seconds"]) for r in records]
    assert max(waited) > 0


def test_a_provider_throttling_despite_free_slots_requeues_the_job(stack: Stack) -> None:
    """Another client of the same provider account holds its only task slot: the pipeline's own count says a slot
    is free, the provider answers 429, and the job goes back to the queue until the provider has room."""
    run = uuid.uuid4().hex[:8]
    folder = f"admission/throttled-{run}"
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.info["secret_arn"])["SecretString"]
    other_client = {"Authorization": f"Bearer {json.loads(secret)['wavespeed']['api_key']}"}
    media = {
        "image": base64.b64encode(portrait_png(320, seed=9)).decode(),
        "audio": base64.b64encode(speech_audio(2.0)).decode(),
    }
    with stack.simulator_settings(concurrency={"wavespeed": 1}, task_seconds_by_provider={"wavespeed": 4.0}):
        httpx.delete(f"{stack.simulator}/_simulator/stats").raise_for_status()
        held = httpx.post(f"{stack.simulator}/api/v3/bytedance/avatar-omni-human-1.5", json=media, headers=other_client)
        assert held.status_code == 200, held.text
        job_id = f"throttled-{run}"
        (execution,) = start_jobs(stack, folder, [job_id]).values()
        described = stack.wait_until_done(execution, timeout=120)
        account = stack.simulator_stats()["providers"]["wavespeed"]

    assert described["status"] == "SUCCEEDED", described
    assert account["refused_limit"] >= 1, "the provider did refuse the job's first submit"
    assert "Requeue" in states_entered(stack, execution)
    assert len(stack.submissions(folder)) == 1, "a refused create is not a paid task"
    lines = Path(stack.info["lambda_log"]).read_text(encoding="utf-8").splitlines()
    lambda_log = [json.loads(line) for line in lines if line.startswith("{")]
    logged = [e for e in lambda_log if e.get("job_id") == job_id and "provider throttled" in e.get("message", "")]
    assert logged
    assert logged[0]["level"] == "WARNING"
    counted = [e for e in lambda_log if e.get("ProviderThrottledRequeued") and e.get("account") == "wavespeed"]
    assert counted, "counted in the ProviderThrottledRequeued metric, per account"


def test_a_job_over_its_max_cost_is_refused_before_anything_is_paid(stack: Stack) -> None:
    run = uuid.uuid4().hex[:8]
    folder = f"admission/budget-{run}"
    job_id = f"budget-{run}"
    (execution,) = start_jobs(stack, folder, [job_id], max_cost_usd=0.05).values()
    described = stack.wait_until_done(execution)

    assert described["status"] == "FAILED"
    assert described["error"] == "BudgetExceeded"
    assert "over its max_cost_usd $0.05" in described["cause"]
    assert stack.submissions(folder) == []
    found = stack.job_record(job_id)
    assert (found["status"], found["error"]) == ("FAILED", "BudgetExceeded")
    (event,) = stack.outcome_events(job_id)
    assert event["detail"]["error"] == "BudgetExceeded"


def test_a_stopped_execution_gives_its_slot_to_the_next_job(stack: Stack) -> None:
    run = uuid.uuid4().hex[:8]
    folder = f"admission/stopped-{run}"
    sfn = stack.client("stepfunctions")
    holders = [f"holder-{run}-{n}" for n in range(LIMIT)]
    with stack.simulator_settings(task_seconds_by_provider={"wavespeed": 20.0}):
        executions = start_jobs(stack, folder, holders)
        for job_id in holders:
            wait_until(
                lambda job_id=job_id: stack.job_record(job_id).get("provider_task_id"), what=f"{job_id} submitted"
            )
        waiting = f"waiting-{run}"
        executions |= start_jobs(stack, folder, [waiting])
        queued = wait_until(lambda: stack.job_record(waiting).get("queue"), what="the fourth job queued")
        assert queued["position"] == 1

        sfn.stop_execution(executionArn=executions[holders[0]], error="JobCancelled", cause="e2e: make room")
        admitted = wait_until(
            lambda: stack.job_record(waiting).get("provider_task_id"), timeout=30, what="the waiting job admitted"
        )
        for job_id in [*holders[1:], waiting]:
            sfn.stop_execution(executionArn=executions[job_id], error="JobCancelled", cause="e2e: clean up")

    assert admitted
    assert stack.job_record(holders[0])["status"] == "CANCELLED"
    assert "WaitForSlot" in states_entered(stack, executions[waiting])
