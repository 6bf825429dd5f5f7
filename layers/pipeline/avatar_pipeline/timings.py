"""A finished job's timings, as ``result.json``, the jobs table and the metrics give them.

Three clocks meet here: ours when we submitted (``submitted_at``) and when we learned the task was done
(``detected_at``: the status check that found it, or the verified callback), and the provider's own completion time
(``provider_completed_at``) where its API reports one (WaveSpeed: the prediction's ``created_at`` plus
``timings.inference``; Kling: the task's ``updated_at`` once it ``succeed``ed; Volcengine reports none).

``generation_seconds`` is the provider's time when it has one (``generation_seconds_source`` ``provider``), else the
time until we noticed (``detected``); ``detection_lag_seconds`` is how late we noticed, when the provider says when
it finished.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from .models import Job, ProviderTask

Source = Literal["provider", "detected"]


def provider_generation_seconds(task: ProviderTask) -> float | None:
    """What the task took by the provider's own completion time; None when the provider does not say."""
    if task.provider_completed_at is None:
        return None
    return (task.provider_completed_at - task.submitted_at).total_seconds()


def generation(task: ProviderTask) -> tuple[float | None, Source | None]:
    """The generation time and where it comes from: the provider's completion time, else our detection."""
    seconds = provider_generation_seconds(task)
    if seconds is not None:
        return round(seconds, 3), "provider"
    if task.detected_at is not None:
        return round((task.detected_at - task.submitted_at).total_seconds(), 3), "detected"
    return None, None


def detection_lag_seconds(task: ProviderTask) -> float | None:
    """How long after the provider finished we learned it; None when the provider does not say when it finished."""
    if task.provider_completed_at is None or task.detected_at is None:
        return None
    return round((task.detected_at - task.provider_completed_at).total_seconds(), 3)


def job_timings(job: Job, task: ProviderTask, persisted_at: datetime) -> dict[str, Any]:
    """``result.json``'s ``timings`` (copied onto the job's record at success)."""
    seconds, source = generation(task)
    return {
        "requested_at": job.requested_at.isoformat(),
        "submitted_at": task.submitted_at.isoformat(),
        "provider_completed_at": _stamp(task.provider_completed_at),
        "detected_at": _stamp(task.detected_at),
        "persisted_at": persisted_at.isoformat(),
        "generation_seconds": seconds,
        "generation_seconds_source": source,
        "detection_lag_seconds": detection_lag_seconds(task),
        "total_seconds": round((persisted_at - job.requested_at).total_seconds(), 3),
        "status_checks": task.polls,
    }


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
