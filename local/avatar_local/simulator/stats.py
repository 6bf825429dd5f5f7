"""Counters the admin API reports, so tests can see what the pipeline actually sent."""

import threading
from collections.abc import Mapping
from datetime import datetime


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submissions: list[dict[str, str]] = []
        self._result_queries = 0
        self._downloads = 0

    def record_submission(
        self,
        *,
        provider: str,
        model: str,
        task_id: str,
        image: str,
        audio: str,
        received_at: datetime,
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
            self._submissions.append(entry)

    def count_result_query(self) -> None:
        with self._lock:
            self._result_queries += 1

    def count_download(self) -> None:
        with self._lock:
            self._downloads += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "submissions": [dict(entry) for entry in self._submissions],
                "result_queries": self._result_queries,
                "downloads": self._downloads,
            }

    def reset(self) -> None:
        with self._lock:
            self._submissions.clear()
            self._result_queries = self._downloads = 0
