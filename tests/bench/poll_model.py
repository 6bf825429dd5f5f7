"""Model of the polling schedule (pure, no AWS): for jobs of known generation time G and an estimate that is right,
2x low or 2x high, how many status checks a job costs, the state transitions they cost, and how late the end is
noticed (detection lag), for the schedule in ``avatar_pipeline.polling`` against the one it replaced (copied below
as the baseline). Jitter comes from fixed seeds; each case is run many times and the figures are medians.

    .venv/bin/python tests/bench/poll_model.py [--fixed-transitions 11] [--samples 200]

``polling_lag_seconds`` and ``polling_checks`` give one job's figures under the new schedule, deterministically, for
comparison with other ways of learning a job's end (a callback, or a lost one).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avatar_pipeline.errors import JobTimedOut
from avatar_pipeline.estimates import blended
from avatar_pipeline.polling import PollPolicy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from table import Row, render

GENERATION_SECONDS = (60.0, 180.0, 600.0, 1800.0)
ESTIMATE_CASES = {"right": 1.0, "2x low": 0.5, "2x high": 2.0}
TRANSITIONS_PER_CHECK = 3  # the Wait, CheckStatus and the Choice after it
FIXED_TRANSITIONS = 11  # Intake .. Submit, PersistResult, RecordSuccess, Succeeded: the same for every schedule
SAMPLES = 200
SEED = 11
NEW = PollPolicy()


@dataclass(frozen=True)
class OldPollPolicy:
    """The schedule before issue 11: the estimate clamped to [5, 60] s, then 5 s doubling to 60 s, ±20 % jitter."""

    min_seconds: int = 5
    max_seconds: int = 60
    backoff_rate: float = 2.0
    jitter_ratio: float = 0.2

    def _clamp(self, seconds: float) -> int:
        return int(min(self.max_seconds, max(self.min_seconds, round(seconds))))

    def wait(self, polls_done: int, estimate_seconds: float, rng: random.Random) -> int:
        if polls_done == 0:
            return self._clamp(estimate_seconds)
        base = min(float(self.max_seconds), self.min_seconds * self.backoff_rate ** max(0, polls_done - 1))
        return self._clamp(max(base + base * self.jitter_ratio * rng.uniform(-1.0, 1.0), 1.0))


Schedule = Callable[[int, float, float, random.Random], int]
"""(polls done, elapsed seconds, estimate seconds, rng) -> seconds until the next check."""


def new_schedule(polls: int, elapsed: float, estimate: float, rng: random.Random) -> int:
    remaining = NEW.deadline_seconds - elapsed
    return NEW.wait(
        polls_done=polls, elapsed_seconds=elapsed, estimate_seconds=estimate, remaining_seconds=remaining, rng=rng
    )


def old_schedule(polls: int, elapsed: float, estimate: float, rng: random.Random) -> int:
    return OldPollPolicy().wait(polls, estimate, rng)


@dataclass(frozen=True)
class Run:
    checks: int
    lag_seconds: float


def simulate(schedule: Schedule, generation: float, estimate: float, rng: random.Random) -> Run:
    """One job: checks until one comes at or after the end of generation."""
    elapsed, checks = 0.0, 0
    while True:
        try:
            elapsed += schedule(checks, elapsed, estimate, rng)
        except JobTimedOut:
            return Run(checks, math.inf)
        checks += 1
        if elapsed >= generation:
            return Run(checks, elapsed - generation)


def runs(schedule: Schedule, generation: float, estimate: float, samples: int = SAMPLES) -> list[Run]:
    rng = random.Random(f"{SEED}-{generation}-{estimate}")
    return [simulate(schedule, generation, estimate, rng) for _ in range(samples)]


def polling_lag_seconds(generation_seconds: float, estimate_seconds: float) -> float:
    """Detection lag of one job under the new schedule (fixed-seed jitter)."""
    return simulate(new_schedule, generation_seconds, estimate_seconds, random.Random(SEED)).lag_seconds


def polling_checks(generation_seconds: float, estimate_seconds: float) -> int:
    """Status checks of one job under the new schedule (fixed-seed jitter)."""
    return simulate(new_schedule, generation_seconds, estimate_seconds, random.Random(SEED)).checks


def jobs_until_learned(generation: float, profile_factor: float, lag_share: float = 0.1, jobs: int = 100) -> int:
    """Jobs of one provider until the learned correction brings a profile ``profile_factor`` times off down to a
    detection lag of at most ``lag_share`` of G; each job teaches what CheckStatus observes (``status.py``)."""
    rng, correction, samples = random.Random(SEED), 1.0, 0
    profile = generation * profile_factor
    for job in range(1, jobs + 1):
        elapsed, checks, last_wait = 0.0, 0, 0
        while elapsed < generation:
            last_wait = new_schedule(checks, elapsed, profile * correction, rng)
            elapsed, checks = elapsed + last_wait, checks + 1
        if elapsed - generation <= lag_share * generation:
            return job
        observed = elapsed if checks == 1 else elapsed - last_wait / 2
        correction, samples = blended(correction, samples, observed / profile), samples + 1
    return jobs


@dataclass(frozen=True)
class Case:
    generation: float
    estimate_case: str
    checks: float
    transitions: float
    lag_seconds: float
    lag_share: float
    lag_p95_share: float


def cases(schedule: Schedule, fixed_transitions: int = FIXED_TRANSITIONS, samples: int = SAMPLES) -> list[Case]:
    found = []
    for generation in GENERATION_SECONDS:
        for name, factor in ESTIMATE_CASES.items():
            results = runs(schedule, generation, generation * factor, samples)
            checks = statistics.median(r.checks for r in results)
            lags = sorted(r.lag_seconds for r in results)
            found.append(
                Case(
                    generation=generation,
                    estimate_case=name,
                    checks=checks,
                    transitions=fixed_transitions + TRANSITIONS_PER_CHECK * checks,
                    lag_seconds=statistics.median(lags),
                    lag_share=statistics.median(lags) / generation,
                    lag_p95_share=lags[int(0.95 * (len(lags) - 1))] / generation,
                )
            )
    return found


def _checks(found: list[Case], generation: float) -> float:
    return next(c.checks for c in found if c.generation == generation and c.estimate_case == "right")


def _median_lag_share(found: list[Case]) -> float:
    return statistics.median(c.lag_share for c in found)


def _ratio(before: float, after: float) -> str:
    return f"{after / before:.2f}×" if before else ""  # noqa: RUF001 (the table's ratio sign)


def rows(fixed_transitions: int = FIXED_TRANSITIONS, samples: int = SAMPLES) -> list[Row]:
    old, new = cases(old_schedule, fixed_transitions, samples), cases(new_schedule, fixed_transitions, samples)
    old_600, old_1800, new_600, new_1800 = (_checks(found, g) for found in (old, new) for g in (600.0, 1800.0))
    old_lag, new_lag = _median_lag_share(old), _median_lag_share(new)
    old_high = max(c.lag_share for c in old if c.estimate_case == "2x high")
    new_high = max(c.lag_share for c in new if c.estimate_case == "2x high")
    transitions_old = next(c.transitions for c in old if c.generation == 600.0 and c.estimate_case == "right")
    transitions_new = next(c.transitions for c in new if c.generation == 600.0 and c.estimate_case == "right")
    learned = max(jobs_until_learned(g, 2.0) for g in GENERATION_SECONDS)
    return [
        Row(
            metric="checks for 600 s / 1800 s jobs, polling only (estimate right)",
            target="≤ 4 / ≤ 5",
            before=f"{old_600:g} / {old_1800:g}",
            after=f"{new_600:g} / {new_1800:g}",
            ratio=f"{_ratio(old_600, new_600)} / {_ratio(old_1800, new_1800)}",
            met=new_600 <= 4 and new_1800 <= 5,
        ),
        Row(
            metric="polling detection lag, median (all G and estimate cases)",
            target="≤ 5 % of G",
            before=f"{old_lag:.1%}",
            after=f"{new_lag:.1%}",
            ratio=_ratio(old_lag, new_lag),
            met=new_lag <= 0.05,
        ),
        Row(
            metric=f"state transitions per 600 s job (estimate right, {fixed_transitions} fixed)",
            target="fewer",
            before=f"{transitions_old:g}",
            after=f"{transitions_new:g}",
            ratio=_ratio(transitions_old, transitions_new),
            met=transitions_new < transitions_old,
        ),
        Row(
            metric="polling detection lag, worst median when the estimate is 2x high",
            target="reported (the first check waits for the estimate)",
            before=f"{old_high:.1%}",
            after=f"{new_high:.1%}",
            ratio=_ratio(old_high, new_high),
            met=True,
        ),
        Row(
            metric="jobs until a 2x-high profile is learned down to a lag ≤ 10 % of G (worst G)",
            target="reported",
            before="no learning",
            after=f"job {learned}",
            ratio="",
            met=True,
        ),
    ]


def _table(name: str, found: list[Case]) -> str:
    lines = [f"{name}:", "     G  estimate  checks  transitions  lag s  lag %G  lag p95 %G"]
    lines += [
        f"{c.generation:6.0f}  {c.estimate_case:8}  {c.checks:6g}  {c.transitions:11g}  {c.lag_seconds:5.0f}"
        f"  {c.lag_share:6.1%}  {c.lag_p95_share:10.1%}"
        for c in found
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixed-transitions", type=int, default=FIXED_TRANSITIONS)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    args = parser.parse_args()
    print(_table("old schedule", cases(old_schedule, args.fixed_transitions, args.samples)))
    print(_table("new schedule", cases(new_schedule, args.fixed_transitions, args.samples)))
    print(render(rows(args.fixed_transitions, args.samples)))


if __name__ == "__main__":
    main()
