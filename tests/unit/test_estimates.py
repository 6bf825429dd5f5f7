"""Learning generation times: what a finished task took, and how one observation moves a provider's correction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from avatar_pipeline.estimates import MAX_CORRECTION, MIN_CORRECTION, blended, bounded, observed_ratio
from avatar_pipeline.models import ProviderTask
from avatar_pipeline.status import observed_seconds
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _task(**changes: object) -> ProviderTask:
    fields: dict[str, object] = {
        "provider": "wavespeed/omnihuman-1.5",
        "task_id": "t-1",
        "submitted_at": NOW,
        "deadline": NOW + timedelta(hours=3),
        "next_wait_seconds": 40,
        "estimated_generation_seconds": 600.0,
        "profile_estimate_seconds": 600.0,
    }
    return ProviderTask.model_validate(fields | changes)


def test_a_task_found_done_at_a_later_check_took_the_middle_of_the_last_wait() -> None:
    """It ended between the check before (40 s earlier) and this one."""
    assert observed_seconds(_task(polls=3), NOW + timedelta(seconds=640)) == 620.0


def test_a_task_found_done_at_its_first_check_took_at_most_that_long() -> None:
    assert observed_seconds(_task(polls=0, next_wait_seconds=510), NOW + timedelta(seconds=510)) == 510.0


def test_the_observed_ratio_is_against_the_profile_not_the_corrected_estimate() -> None:
    done = _task(status="succeeded", observed_generation_seconds=900.0, estimated_generation_seconds=1200.0)
    assert observed_ratio(done) == 1.5


def test_without_an_observed_time_the_detection_time_is_used() -> None:
    done = _task(status="succeeded", detected_at=NOW + timedelta(seconds=300))
    assert observed_ratio(done) == 0.5


def test_the_providers_own_completion_time_comes_first() -> None:
    """The checks say 900 s (they noticed late); the provider says it finished after 450 s: that is what it took."""
    done = _task(
        status="succeeded",
        observed_generation_seconds=900.0,
        detected_at=NOW + timedelta(seconds=920),
        provider_completed_at=NOW + timedelta(seconds=450),
    )
    assert observed_ratio(done) == 0.75


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "running", "observed_generation_seconds": 600.0},  # not finished
        {"status": "succeeded", "observed_generation_seconds": 600.0, "profile_estimate_seconds": None},  # no length
        {"status": "succeeded", "observed_generation_seconds": 600.0, "profile_estimate_seconds": 0.0},
        {"status": "succeeded"},  # no time at all
        {"status": "succeeded", "observed_generation_seconds": 0.0},
        {"status": "succeeded", "detected_at": NOW - timedelta(seconds=5)},  # a clock gone backwards
        {"status": "succeeded", "provider_completed_at": NOW - timedelta(seconds=5)},  # the provider's clock behind
    ],
)
def test_tasks_without_a_reliable_time_teach_nothing(changes: dict[str, object]) -> None:
    assert observed_ratio(_task(**changes)) is None


def test_the_first_observations_move_the_correction_fast_then_by_a_fifth() -> None:
    assert blended(1.0, 0, 2.0) == pytest.approx(1.5)  # the profile counts as one observation
    assert blended(1.5, 1, 2.0) == pytest.approx(1.5 + (2.0 - 1.5) / 3)
    assert blended(1.0, 10, 2.0) == pytest.approx(1.2)
    assert blended(1.0, 1000, 2.0) == pytest.approx(1.2)


def test_one_outlier_cannot_wreck_the_correction() -> None:
    assert blended(1.0, 10, 1000.0) == pytest.approx(0.8 + 0.2 * MAX_CORRECTION)
    assert blended(1.0, 10, 0.0001) == pytest.approx(0.8 + 0.2 * MIN_CORRECTION)
    assert bounded(7.0) == MAX_CORRECTION
    assert bounded(0.01) == MIN_CORRECTION


def test_a_steady_provider_converges_to_its_own_speed() -> None:
    correction, samples = 1.0, 0
    for _ in range(30):
        correction, samples = blended(correction, samples, 0.6), samples + 1
    assert correction == pytest.approx(0.6, abs=0.01)


def test_an_estimate_too_high_comes_down_from_first_check_upper_bounds() -> None:
    """Every job done before its first check (at 85 % of the estimate) teaches only that bound: still, the estimate
    comes down until jobs are no longer done at their first check."""
    true_ratio, correction, samples = 0.5, 2.0, 0
    for _ in range(60):
        first_check = 0.85 * correction
        observed = first_check if true_ratio <= first_check else true_ratio
        correction, samples = blended(correction, samples, observed), samples + 1
    assert 0.5 <= correction <= 0.5 / 0.85 + 0.05


@given(
    correction=st.floats(min_value=0.0, max_value=100.0),
    samples=st.integers(min_value=0, max_value=10**6),
    observed=st.floats(min_value=0.0, max_value=1e9),
)
def test_the_correction_always_stays_in_range(correction: float, samples: int, observed: float) -> None:
    assert MIN_CORRECTION <= blended(correction, samples, observed) <= MAX_CORRECTION
