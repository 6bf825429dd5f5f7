"""Counters the admin API reports, so tests can see what the pipeline actually sent."""

import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from datetime import datetime

CALLBACKS_KEPT = 1000
"""The most recent callback deliveries ``snapshot`` lists."""
CALLBACK_COUNTS = ("attempts", "answered_2xx", "failed_attempts", "given_up", "lost")
"""POSTs sent; of them answered 2xx, and answered otherwise or not at all; events abandoned after their last retry;
events a ``lost`` fault dropped."""

Progress = Callable[[], tuple[str, datetime | None]]
"""A submitted task's provider-neutral status (queued, running, succeeded, failed) and when it ended, if it has."""


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submissions: list[tuple[dict[str, str], Progress]] = []
        self._result_queries = 0
        self._downloads = 0
        self._callbacks: deque[dict[str, object]] = deque(maxlen=CALLBACKS_KEPT)
        self._callback_counts: Counter[str] = Counter()

    def record_submission(
        self,
        *,
        provider: str,
        model: str,
        task_id: str,
        image: str,
        audio: str,
        received_at: datetime,
        progress: Progress,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """``extra``: provider-specific request fields worth checking in tests (e.g. Kling's external_task_id)."""
        entry = {
            "provider": provider,
            "model": model,
            "task_id": task_id,
            "image": image,
            "audio": audio,
            "received_at": received_at.isoformat(),
            **(extra or {}),
        }
        with self._lock:
            self._submissions.append((entry, progress))

    def count_result_query(self) -> None:
        with self._lock:
            self._result_queries += 1

    def count_download(self) -> None:
        with self._lock:
            self._downloads += 1

    def record_callback(self, entry: Mapping[str, object], *counts: str) -> None:
        """One callback delivery attempt (see callbacks.py), and the counters it adds one to."""
        with self._lock:
            self._callbacks.append(dict(entry))
            self._callback_counts.update(counts)

    def count_callbacks(self, *counts: str) -> None:
        with self._lock:
            self._callback_counts.update(counts)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            submissions = list(self._submissions)
            result_queries, downloads = self._result_queries, self._downloads
            callbacks = list(self._callbacks)
            callback_counts = {name: self._callback_counts[name] for name in CALLBACK_COUNTS}
        return {
            "submissions": [_with_progress(entry, progress) for entry, progress in submissions],
            "result_queries": result_queries,
            "downloads": downloads,
            "callbacks": callbacks,
            "callback_counts": callback_counts,
        }

    def reset(self) -> None:
        with self._lock:
            self._submissions.clear()
            self._callbacks.clear()
            self._callback_counts.clear()
            self._result_queries = self._downloads = 0


def _with_progress(entry: dict[str, str], progress: Progress) -> dict[str, str | None]:
    status, finished_at = progress()
    return {**entry, "status": status, "finished_at": None if finished_at is None else finished_at.isoformat()}
