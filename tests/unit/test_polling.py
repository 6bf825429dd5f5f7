"""The wait schedule between status checks: the first near the estimated end, then proportional to the time spent."""

import math
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from avatar_pipeline.errors import JobTimedOut
from avatar_pipeline.poll_settings import PollSettings
from avatar_pipeline.polling import PollPolicy
from avatar_pipeline.settings import load_settings
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FAR = NOW + timedelta(hours=3)


class _Fixed(random.Random):
    """Jitter source returning one fixed point of the ``uniform`` range."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def uniform(self, a: float, b: float) -> float:
        assert (a, b) == (-1.0, 1.0)
        return self.value


NO_JITTER = _Fixed(0.0)


def _after(elapsed: float, polls: int = 1, policy: PollPolicy | None = None, rng: random.Random = NO_JITTER) -> int:
    """The wait after ``polls`` checks, ``elapsed`` seconds after submission."""
    submitted = NOW - timedelta(seconds=elapsed)
    return (policy or PollPolicy()).next_wait(polls, now=NOW, deadline=FAR, submitted_at=submitted, rng=rng)


@pytest.mark.parametrize(
    ("estimate", "expected"),
    [(0.0, 5), (3.0, 5), (6.0, 5), (12.0, 10), (60.0, 51), (180.0, 153), (600.0, 510), (1800.0, 1530)],
)
def test_first_wait_comes_a_little_before_the_estimated_end_and_is_not_capped(estimate: float, expected: int) -> None:
    """85 % of the estimate, at least PollMinSeconds, never cut to PollMaxSeconds (the old schedule waited at most
    60 s, so a 600 s job was checked 14 times)."""
    policy = PollPolicy(min_seconds=5, max_seconds=60)
    assert policy.first_wait(estimate, now=NOW, deadline=FAR, rng=NO_JITTER) == expected


@pytest.mark.parametrize(("estimate", "expected"), [(12.0, 13), (180.0, 189), (1800.0, 1890), (2.0, 5)])
def test_a_job_told_to_call_back_is_checked_just_after_its_estimated_end(estimate: float, expected: int) -> None:
    """The check is only the fallback for a lost callback: 105 % of the estimate, with no jitter that could bring it
    before the end a callback reports (that would cost a check and three transitions for nothing)."""
    policy = PollPolicy(min_seconds=5, max_seconds=60)
    for rng in (NO_JITTER, _Fixed(1.0), _Fixed(-1.0)):
        assert policy.first_wait(estimate, now=NOW, deadline=FAR, rng=rng, callbacks=True) == expected
    assert policy.first_wait(180.0, now=NOW, deadline=NOW + timedelta(seconds=100), callbacks=True) == 100
    assert PollPolicy(first_wait_max_seconds=6).first_wait(180.0, now=NOW, deadline=FAR, callbacks=True) == 6


def test_first_wait_cap_is_for_test_stacks() -> None:
    policy = PollPolicy(min_seconds=1, max_seconds=1, first_wait_max_seconds=2)
    assert policy.first_wait(600.0, now=NOW, deadline=FAR, rng=NO_JITTER) == 2
    assert policy.first_wait(1.0, now=NOW, deadline=FAR, rng=NO_JITTER) == 1


def test_first_wait_jitter_is_ten_percent() -> None:
    policy = PollPolicy()
    assert policy.first_wait(1000.0, now=NOW, deadline=FAR, rng=_Fixed(1.0)) == 935
    assert policy.first_wait(1000.0, now=NOW, deadline=FAR, rng=_Fixed(-1.0)) == 765


def test_first_wait_never_passes_the_deadline() -> None:
    policy = PollPolicy(min_seconds=5, max_seconds=60)
    assert policy.first_wait(120.0, now=NOW, deadline=NOW + timedelta(seconds=20)) == 20
    assert policy.first_wait(120.0, now=NOW, deadline=NOW + timedelta(seconds=0.2)) == 1


def test_first_wait_past_the_deadline_times_out() -> None:
    with pytest.raises(JobTimedOut, match="deadline"):
        PollPolicy().first_wait(30.0, now=NOW, deadline=NOW)


def test_next_waits_grow_with_the_time_spent_between_the_floor_and_the_cap() -> None:
    policy = PollPolicy(min_seconds=5, max_seconds=120)
    assert [_after(e, policy=policy) for e in (0, 30, 100, 510, 600, 1000, 1714, 3000)] == [
        5,
        5,
        7,
        36,
        42,
        70,
        120,
        120,
    ]


def test_next_wait_does_not_depend_on_the_checks_done_only_on_the_time_spent() -> None:
    assert {_after(600.0, polls) for polls in (1, 2, 10, 150)} == {42}


def test_jitter_extremes_are_plus_minus_ten_percent() -> None:
    assert _after(1000.0, rng=_Fixed(1.0)) == 77  # 70 * 1.1
    assert _after(1000.0, rng=_Fixed(-1.0)) == 63  # 70 * 0.9
    # At the cap, jitter can only shorten the wait; at the floor, only lengthen it.
    assert _after(5000.0, rng=_Fixed(1.0)) == 120
    assert _after(5000.0, rng=_Fixed(-1.0)) == 108
    assert _after(10.0, rng=_Fixed(-1.0)) == 5
    assert _after(10.0, rng=_Fixed(1.0)) == 6  # 5.5, rounded half to even is 6


def test_seeded_jitter_stays_within_bounds_and_varies() -> None:
    rng = random.Random(1234)
    for elapsed in (0.0, 100.0, 500.0, 1000.0, 1700.0, 5000.0):
        base = min(120.0, max(5.0, 0.07 * elapsed))
        waits = {_after(elapsed, rng=rng) for _ in range(200)}
        low, high = max(5, math.floor(base * 0.9)), min(120, math.ceil(base * 1.1))
        assert low <= min(waits), (elapsed, sorted(waits))
        assert max(waits) <= high, (elapsed, sorted(waits))
        if base >= 50:
            assert len(waits) > 3, "jitter spreads the waits"


def test_seeded_jitter_is_reproducible() -> None:
    first = [_after(100.0 * n, rng=random.Random(7)) for n in range(1, 20)]
    again = [_after(100.0 * n, rng=random.Random(7)) for n in range(1, 20)]
    assert first == again


@pytest.mark.parametrize("generation", [600.0, 1800.0])
def test_a_job_whose_estimate_is_right_costs_a_few_checks_and_is_seen_soon(generation: float) -> None:
    policy, rng = PollPolicy(), random.Random(3)
    checks_made, lags = [], []
    for _ in range(200):
        elapsed = float(policy.first_wait(generation, now=NOW, deadline=FAR, rng=rng))
        checks = 1
        while elapsed < generation:
            elapsed += _after(elapsed, checks, policy, rng)
            checks += 1
        checks_made.append(checks)
        lags.append(elapsed - generation)
    assert statistics.median(checks_made) <= 4
    assert max(checks_made) <= 6  # the first check 10 % early and every wait 10 % short
    assert statistics.median(lags) <= 0.05 * generation
    assert max(lags) <= 0.1 * generation


def test_the_schedule_is_one_pure_function_of_its_inputs() -> None:
    policy = PollPolicy()
    wait = policy.wait(
        polls_done=2, elapsed_seconds=1000.0, estimate_seconds=0.0, remaining_seconds=50.0, rng=NO_JITTER
    )
    assert wait == 50, "cut to the deadline"
    first = policy.wait(polls_done=0, elapsed_seconds=0.0, estimate_seconds=200.0, remaining_seconds=1e4, rng=NO_JITTER)
    assert first == 170


def test_a_large_poll_budget_keeps_working() -> None:
    """MaxPolls has no upper bound in the template: 1 s waits over a 3 h deadline need ~10,800 checks."""
    policy = PollPolicy(min_seconds=1, max_seconds=1, max_polls=20_000)
    for polls in (1_024, 1_025, 1_100, 19_999):
        assert _after(float(polls), polls, policy, random.Random(polls)) == 1


def test_next_wait_is_cut_to_the_deadline() -> None:
    deadline = NOW + timedelta(seconds=7.5)
    wait = PollPolicy().next_wait(6, now=NOW, deadline=deadline, submitted_at=NOW - timedelta(hours=1))
    assert wait == 8


def test_next_wait_past_the_deadline_times_out() -> None:
    with pytest.raises(JobTimedOut, match=r"deadline.* passed"):
        PollPolicy().next_wait(1, now=NOW, deadline=NOW - timedelta(seconds=1), submitted_at=NOW)


def test_next_wait_at_max_polls_times_out() -> None:
    policy = PollPolicy(max_polls=3)
    assert _after(10.0, 2, policy) >= 1
    with pytest.raises(JobTimedOut, match="after 3 status checks"):
        _after(10.0, 3, policy)
    with pytest.raises(JobTimedOut, match="after 4 status checks"):
        _after(10.0, 4, policy)


@settings(max_examples=300, deadline=None)
@given(
    polls=st.integers(min_value=1, max_value=9_999),
    elapsed=st.floats(min_value=0, max_value=20_000, allow_nan=False),
    remaining=st.floats(min_value=0.001, max_value=20_000, allow_nan=False),
    min_seconds=st.integers(min_value=0, max_value=30),
    extra=st.integers(min_value=0, max_value=600),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_next_wait_is_always_within_bounds(
    polls: int, elapsed: float, remaining: float, min_seconds: int, extra: int, seed: int
) -> None:
    max_seconds = max(min_seconds, 1) + extra
    policy = PollPolicy(min_seconds=min_seconds, max_seconds=max_seconds, max_polls=10_000)
    deadline = NOW + timedelta(seconds=remaining)
    submitted = NOW - timedelta(seconds=elapsed)
    wait = policy.next_wait(polls, now=NOW, deadline=deadline, submitted_at=submitted, rng=random.Random(seed))
    assert 1 <= wait <= max_seconds
    assert wait <= math.ceil((deadline - NOW).total_seconds())
    assert wait >= min(min_seconds, math.ceil(remaining))


@settings(max_examples=200, deadline=None)
@given(
    estimate=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    remaining=st.floats(min_value=0.001, max_value=20_000, allow_nan=False),
    cap=st.sampled_from([0, 5, 30]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_first_wait_is_always_within_bounds(estimate: float, remaining: float, cap: int, seed: int) -> None:
    policy = PollPolicy(min_seconds=5, max_seconds=60, first_wait_max_seconds=cap)
    deadline = NOW + timedelta(seconds=remaining)
    wait = policy.first_wait(estimate, now=NOW, deadline=deadline, rng=random.Random(seed))
    assert 1 <= wait <= math.ceil(remaining)
    if cap:
        assert wait <= cap
    if remaining >= 1e6:
        assert wait >= 5
    if not cap and remaining > estimate:
        assert wait <= max(5, round(0.935 * estimate) + 1)


@settings(max_examples=100, deadline=None)
@given(past=st.floats(min_value=0, max_value=1e6, allow_nan=False), polls=st.integers(1, 50))
def test_any_deadline_in_the_past_times_out(past: float, polls: int) -> None:
    with pytest.raises(JobTimedOut):
        PollPolicy().next_wait(polls, now=NOW, deadline=NOW - timedelta(seconds=past), submitted_at=NOW)


def test_settings_read_the_template_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_MIN_SECONDS", "2")
    monkeypatch.setenv("POLL_MAX_SECONDS", "30")
    monkeypatch.setenv("POLL_FIRST_WAIT_MAX_SECONDS", "3")
    monkeypatch.setenv("MAX_POLLS", "17")
    monkeypatch.setenv("JOB_DEADLINE_SECONDS", "900")
    policy = load_settings(PollSettings).policy()
    assert (policy.min_seconds, policy.max_seconds, policy.first_wait_max_seconds) == (2, 30, 3)
    assert (policy.max_polls, policy.deadline_seconds) == (17, 900)


def test_settings_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("POLL_MIN_SECONDS", "POLL_MAX_SECONDS", "POLL_FIRST_WAIT_MAX_SECONDS", "MAX_POLLS", "JOB_DEADLINE_SECONDS")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAX_POLLS", "")
    policy = load_settings(PollSettings).policy()
    assert policy == PollPolicy()
    assert (policy.max_seconds, policy.first_wait_max_seconds) == (120, 0)


def test_settings_reject_non_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_MAX_SECONDS", "sixty")
    with pytest.raises(RuntimeError, match="POLL_MAX_SECONDS must be an integer, got 'sixty'"):
        load_settings(PollSettings)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_seconds": -1},
        {"max_seconds": 0},
        {"min_seconds": 10, "max_seconds": 5},
        {"max_polls": 0},
        {"min_seconds": 10, "first_wait_max_seconds": 5},
    ],
)
def test_inconsistent_policies_are_rejected(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"must be positive|poll bounds"):
        PollPolicy(**kwargs)
