"""Benchmark of callbacks against polling: real jobs on the local stack (``avatar-pipeline local up``), the simulator
calling back through the local webhook URL, for the transitions a job costs and how late its end is learned; and the
polling model (``poll_model``) for what a lost callback costs against today's polling and the old schedule.

A real job's transitions are the history's entered states. Its detection lag is from the moment the simulator ended
the task (its stats) to PersistResult being entered. The fallback check is set far out (60 s) and generation short
(2 s), so every job is resumed by its callback: the path a 180 s job whose estimate is right takes, since its first
fallback check comes after the estimated end (``PollPolicy.callback_check_ratio``).

    .venv/bin/python tests/bench/bench_callbacks.py [--jobs 20]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import poll_model
from avatar_pipeline.errors import JobTimedOut
from table import Row, render

from tests.e2e.conftest import E2E_OVERRIDES, Stack, local_stack

PROVIDERS = ("wavespeed/omnihuman-1.5", "kling/avatar")
FALLBACK = 60
WARM_UP_JOBS = 4
G = 180.0


def callback_schedule(polls: int, elapsed: float, estimate: float, rng: random.Random) -> int:
    """The fallback of a job told to call back: the first check just after the estimated end, then as polling."""
    policy = poll_model.NEW
    remaining = policy.deadline_seconds - elapsed
    return policy.wait(
        polls_done=polls,
        elapsed_seconds=elapsed,
        estimate_seconds=estimate,
        remaining_seconds=remaining,
        rng=rng,
        callbacks=True,
    )


def _lag_shares(schedule: poll_model.Schedule) -> list[float]:
    return [
        statistics.median(r.lag_seconds for r in poll_model.runs(schedule, g, g * factor)) / g
        for g in poll_model.GENERATION_SECONDS
        for factor in poll_model.ESTIMATE_CASES.values()
    ]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[round(0.95 * (len(ordered) - 1))]


def measure_jobs(jobs: int) -> tuple[list[int], list[float]]:
    """(entered states per job, detection lag per job in seconds), from real jobs resumed by callbacks."""
    names = ("PollMinSeconds", "PollMaxSeconds", "PollFirstWaitMaxSeconds")
    overrides = [o for o in E2E_OVERRIDES if not o.startswith((*names, "ProviderConcurrency"))]
    overrides += [f"{name}={FALLBACK}" for name in names] + ["ProviderConcurrency=wavespeed=50,kling=50"]
    with tempfile.TemporaryDirectory() as state, local_stack(Path(state), overrides) as stack:
        stack.simulator_settings(task_seconds=2.0).__enter__()
        # Steady state: the first jobs start the webhook's and the steps' workers (cold starts are measured apart,
        # by bench_coldstart); their lags are printed, not counted.
        warm = _run_jobs(stack, WARM_UP_JOBS)
        print(f"  warm-up jobs (cold workers): detection lag {', '.join(f'{lag:.2f}' for _, lag in warm)} s")
        measured = _run_jobs(stack, jobs)
    for provider in PROVIDERS:
        mine = [lag for index, (_, lag) in enumerate(measured) if PROVIDERS[index % len(PROVIDERS)] == provider]
        print(f"  {provider}: detection lag {', '.join(f'{lag:.2f}' for lag in mine)} s", flush=True)
    return [count for count, _ in measured], [lag for _, lag in measured]


def _run_jobs(stack: Stack, jobs: int) -> list[tuple[int, float]]:
    """Jobs started half a second apart, alternating providers: (entered states, detection lag) of each."""
    started = []
    for index in range(jobs):
        folder = f"bench/{uuid.uuid4().hex[:8]}"
        image, audio = stack.upload_media(folder)
        provider = PROVIDERS[index % len(PROVIDERS)]
        started.append((stack.start({"provider": provider, "image": image, "audio": audio}), folder))
        time.sleep(0.5)
    measured = []
    for execution, folder in started:
        if stack.wait_until_done(execution, timeout=180)["status"] != "SUCCEEDED":
            raise RuntimeError(f"{execution} did not succeed")
        states, persisted = _history(stack, execution)
        measured.append((len(states), (persisted - _finished_at(stack, folder)).total_seconds()))
    return measured


def _history(stack: Stack, execution: str) -> tuple[list[str], datetime]:
    events = stack.client("stepfunctions").get_execution_history(executionArn=execution, maxResults=1000)["events"]
    entered = [e for e in events if "stateEnteredEventDetails" in e]
    persisted = next(e["timestamp"] for e in entered if e["stateEnteredEventDetails"]["name"] == "PersistResult")
    return [e["stateEnteredEventDetails"]["name"] for e in entered], persisted


def _finished_at(stack: Stack, folder: str) -> datetime:
    (submission,) = stack.submissions(folder)
    finals = [c for c in stack.simulator_stats()["callbacks"] if c["task_id"] == submission["task_id"]]
    return datetime.fromisoformat(finals[-1]["task_finished_at"])


def rows(jobs: int = 20) -> list[Row]:
    transitions, lags = measure_jobs(jobs)
    old = poll_model.cases(poll_model.old_schedule)
    old_180 = next(c for c in old if c.generation == G and c.estimate_case == "right")
    old_lags = [r.lag_seconds for r in poll_model.runs(poll_model.old_schedule, G, G)]
    most, lag_p95 = max(transitions), _p95(lags)
    lost, polled_old, polled_new = (
        statistics.median(shares)
        for shares in (_lag_shares(callback_schedule), [c.lag_share for c in old], _lag_shares(poll_model.new_schedule))
    )
    try:
        lost_180 = poll_model.simulate(callback_schedule, G, G, random.Random(poll_model.SEED)).lag_seconds
    except JobTimedOut:
        lost_180 = float("inf")
    return [
        Row(
            metric=f"transitions per 180 s job, with callbacks (most of {jobs} real jobs)",
            target="≤ 12",
            before=f"{old_180.transitions:g} (polling, old schedule)",
            after=f"{most}",
            ratio=f"{most / old_180.transitions:.2f}x",
            met=most <= 12,
        ),
        Row(
            metric=f"detection lag p95, with callbacks ({jobs} real jobs)",
            target="≤ 2 s",
            before=f"{_p95(old_lags):.1f} s (polling a 180 s job, old schedule)",
            after=f"{lag_p95:.2f} s (median {statistics.median(lags):.2f} s)",
            ratio=f"{lag_p95 / _p95(old_lags):.3f}x",
            met=lag_p95 <= 2,
        ),
        Row(
            metric="lag with a lost callback, median share of G (all G and estimate cases)",
            target="no worse than polling",
            before=f"{polled_old:.1%} (old polling); {polled_new:.1%} (new polling)",
            after=f"{lost:.1%} ({lost_180:.0f} s at G = 180 s, estimate right)",
            ratio=f"{lost / polled_old:.2f}x",
            met=lost <= polled_old,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    print(render(rows(args.jobs)))
    print(json.dumps({"jobs": args.jobs}))


if __name__ == "__main__":
    main()
