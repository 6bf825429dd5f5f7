"""The wait schedule between status checks."""

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from avatar_pipeline.errors import JobTimedOut
from avatar_pipeline.polling import PollPolicy
from avatar_pipeline.settings import PollSettings, load_settings
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FAR = NOW + timedelta(hours=3)


@pytest.mark.parametrize(
    ("estimate", "expected"),
    [(0.0, 5), (3.0, 5), (5.0, 5), (12.4, 12), (12.6, 13), (59.0, 59), (60.0, 60), (600.0, 60)],
)
def test_first_wait_clamps_the_estimate(estimate: float, expected: int) -> None:
    assert PollPolicy(min_seconds=5, max_seconds=60).first_wait(estimate, now=NOW, deadline=FAR) == expected


def test_first_wait_never_passes_the_deadline() -> None:
    policy = PollPolicy(min_seconds=5, max_seconds=60)
    assert policy.first_wait(120.0, now=NOW, deadline=NOW + timedelta(seconds=20)) == 20
    assert policy.first_wait(120.0, now=NOW, deadline=NOW + timedelta(seconds=0.2)) == 1


def test_first_wait_past_the_deadline_times_out() -> None:
    with pytest.raises(JobTimedOut, match="deadline"):
        PollPolicy().first_wait(30.0, now=NOW, deadline=NOW)


def _no_jitter(polls: int, policy: PollPolicy) -> int:
    return policy.next_wait(polls, now=NOW, deadline=FAR, rng=_Fixed(0.0))


class _Fixed(random.Random):
    """Jitter source returning one fixed point of the ``uniform`` range."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def uniform(self, a: float, b: float) -> float:
        assert (a, b) == (-1.0, 1.0)
        return self.value


def test_next_wait_grows_exponentially_to_the_cap() -> None:
    policy = PollPolicy(min_seconds=5, max_seconds=60, jitter_ratio=0.2)
    assert [_no_jitter(n, policy) for n in range(1, 8)] == [5, 10, 20, 40, 60, 60, 60]


def test_jitter_extremes_are_plus_minus_twenty_percent() -> None:
    policy = PollPolicy(min_seconds=10, max_seconds=600)
    assert policy.next_wait(3, now=NOW, deadline=FAR, rng=_Fixed(1.0)) == 48  # 40 * 1.2
    assert policy.next_wait(3, now=NOW, deadline=FAR, rng=_Fixed(-1.0)) == 32  # 40 * 0.8
    # At the cap, jitter can only shorten the wait.
    assert policy.next_wait(9, now=NOW, deadline=FAR, rng=_Fixed(1.0)) == 600
    assert policy.next_wait(9, now=NOW, deadline=FAR, rng=_Fixed(-1.0)) == 480


def test_seeded_jitter_stays_within_bounds_and_varies() -> None:
    policy = PollPolicy(min_seconds=5, max_seconds=60)
    rng = random.Random(1234)
    for polls in range(1, 12):
        base = min(60, 5 * 2 ** (polls - 1))
        waits = {policy.next_wait(polls, now=NOW, deadline=FAR, rng=rng) for _ in range(200)}
        low, high = max(5, math.floor(base * 0.8)), min(60, math.ceil(base * 1.2))
        assert low <= min(waits), (polls, sorted(waits))
        assert max(waits) <= high, (polls, sorted(waits))
        if polls >= 3:
            assert len(waits) > 3, "jitter spreads the waits"


def test_seeded_jitter_is_reproducible() -> None:
    policy = PollPolicy()
    first = [policy.next_wait(n, now=NOW, deadline=FAR, rng=random.Random(7)) for n in range(1, 10)]
    again = [policy.next_wait(n, now=NOW, deadline=FAR, rng=random.Random(7)) for n in range(1, 10)]
    assert first == again


def test_a_large_poll_budget_keeps_working() -> None:
    """MaxPolls has no upper bound in the template: 1 s waits over a 3 h deadline need ~10,800 checks."""
    policy = PollPolicy(min_seconds=1, max_seconds=1, max_polls=20_000)
    for polls in (1_024, 1_025, 1_100, 19_999):
        assert policy.next_wait(polls, now=NOW, deadline=FAR, rng=random.Random(polls)) == 1


def test_next_wait_is_cut_to_the_deadline() -> None:
    policy = PollPolicy(min_seconds=5, max_seconds=60)
    deadline = NOW + timedelta(seconds=7.5)
    assert policy.next_wait(6, now=NOW, deadline=deadline, rng=random.Random(0)) == 8


def test_next_wait_past_the_deadline_times_out() -> None:
    with pytest.raises(JobTimedOut, match=r"deadline .* passed"):
        PollPolicy().next_wait(1, now=NOW, deadline=NOW - timedelta(seconds=1))


def test_next_wait_at_max_polls_times_out() -> None:
    policy = PollPolicy(max_polls=3)
    assert policy.next_wait(2, now=NOW, deadline=FAR) >= 1
    with pytest.raises(JobTimedOut, match="after 3 status checks"):
        policy.next_wait(3, now=NOW, deadline=FAR)
    with pytest.raises(JobTimedOut, match="after 4 status checks"):
        policy.next_wait(4, now=NOW, deadline=FAR)


@settings(max_examples=300, deadline=None)
@given(
    polls=st.integers(min_value=0, max_value=9_999),
    remaining=st.floats(min_value=0.001, max_value=20_000, allow_nan=False),
    min_seconds=st.integers(min_value=0, max_value=30),
    extra=st.integers(min_value=0, max_value=600),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_next_wait_is_always_within_bounds(
    polls: int, remaining: float, min_seconds: int, extra: int, seed: int
) -> None:
    max_seconds = max(min_seconds, 1) + extra
    policy = PollPolicy(min_seconds=min_seconds, max_seconds=max_seconds, max_polls=10_000)
    deadline = NOW + timedelta(seconds=remaining)
    wait = policy.next_wait(polls, now=NOW, deadline=deadline, rng=random.Random(seed))
    assert 1 <= wait <= max_seconds
    assert wait <= math.ceil((deadline - NOW).total_seconds())


@settings(max_examples=200, deadline=None)
@given(
    estimate=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    remaining=st.floats(min_value=0.001, max_value=20_000, allow_nan=False),
)
def test_first_wait_is_always_within_bounds(estimate: float, remaining: float) -> None:
    policy = PollPolicy(min_seconds=5, max_seconds=60)
    deadline = NOW + timedelta(seconds=remaining)
    wait = policy.first_wait(estimate, now=NOW, deadline=deadline)
    assert 1 <= wait <= 60
    assert wait <= math.ceil((deadline - NOW).total_seconds())
    if remaining >= 60:
        assert wait == min(60, max(5, round(estimate)))


@settings(max_examples=100, deadline=None)
@given(past=st.floats(min_value=0, max_value=1e6, allow_nan=False), polls=st.integers(0, 50))
def test_any_deadline_in_the_past_times_out(past: float, polls: int) -> None:
    with pytest.raises(JobTimedOut):
        PollPolicy().next_wait(polls, now=NOW, deadline=NOW - timedelta(seconds=past))


def test_settings_read_the_template_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_MIN_SECONDS", "2")
    monkeypatch.setenv("POLL_MAX_SECONDS", "30")
    monkeypatch.setenv("MAX_POLLS", "17")
    monkeypatch.setenv("JOB_DEADLINE_SECONDS", "900")
    policy = load_settings(PollSettings).policy()
    assert (policy.min_seconds, policy.max_seconds, policy.max_polls, policy.deadline_seconds) == (2, 30, 17, 900)


def test_settings_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POLL_MIN_SECONDS", "POLL_MAX_SECONDS", "MAX_POLLS", "JOB_DEADLINE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAX_POLLS", "")
    assert load_settings(PollSettings).policy() == PollPolicy()


def test_settings_reject_non_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_MAX_SECONDS", "sixty")
    with pytest.raises(RuntimeError, match="POLL_MAX_SECONDS must be an integer, got 'sixty'"):
        load_settings(PollSettings)


@pytest.mark.parametrize(
    "kwargs",
    [{"min_seconds": -1}, {"max_seconds": 0}, {"min_seconds": 10, "max_seconds": 5}, {"max_polls": 0}],
)
def test_inconsistent_policies_are_rejected(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"must be positive|poll bounds"):
        PollPolicy(**kwargs)
