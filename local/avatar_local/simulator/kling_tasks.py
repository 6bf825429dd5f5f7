"""Kling's view of a store task: its status names, timestamps in ms, and the task object that the query returns
in ``data`` and a callback carries as its body."""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .tasks import Task, TaskStatus

# Units deducted per output second; the simulator's own figures (Kling publishes per-pack prices).
UNITS_PER_SECOND = {"std": 0.1, "pro": 0.2}
STATUSES: dict[TaskStatus, str] = {
    "queued": "submitted",
    "running": "processing",
    "succeeded": "succeed",
    "failed": "failed",
}
_ORDER: dict[str, int] = {"submitted": 0, "processing": 1, "succeed": 2, "failed": 2}


@dataclass
class _Record:
    """What Kling adds to a store task: timestamps in ms and the last status reported."""

    created_ms: int
    updated_ms: int
    status: str = "submitted"


class KlingTasks:
    """Kling's records of the store's tasks; ``updated_at`` is when the task ended, for a final status, else when a
    query or a callback first reported the status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}

    def __contains__(self, task_id: object) -> bool:
        with self._lock:
            return task_id in self._records

    def register(self, task: Task) -> int:
        """Start the record of a new task (if its first callback has not yet); its creation time in ms."""
        return self._observe(task)[0]

    def task_object(self, task: Task, video_url: Callable[[], str]) -> dict[str, Any]:
        """The task as Kling reports it now; ``video_url`` makes the URL of its video, once it has one."""
        created_ms, updated_ms = self._observe(task)
        data: dict[str, Any] = {
            "task_id": task.id,
            "task_status": STATUSES[task.status],
            "task_status_msg": task.error,
            "task_info": task_info(task),
            "created_at": created_ms,
            "updated_at": updated_ms,
        }
        if task.status == "succeeded" and task.video is not None:
            data["task_result"] = {"videos": [_video(task, video_url())]}
            data["final_unit_deduction"] = _units(task)
        return data

    def _observe(self, task: Task) -> tuple[int, int]:
        """The record's creation and update times, once it has seen the task's status; a snapshot older than the
        record's status (a query and a callback racing) does not take it back."""
        status = STATUSES[task.status]
        created_ms = _ms(task.created_at.timestamp())
        with self._lock:
            record = self._records.setdefault(task.id, _Record(created_ms, created_ms))
            if _ORDER[status] > _ORDER[record.status]:
                # A final status changed when the task ended, as Kling stamps it; an earlier one, when first seen.
                changed = task.finished_at.timestamp() if task.finished_at is not None else time.time()
                record.status, record.updated_ms = status, max(record.created_ms, _ms(changed))
            return record.created_ms, record.updated_ms


def task_info(task: Task) -> dict[str, str]:
    external_id = task.options.get("external_task_id")
    return {"external_task_id": external_id} if external_id else {}


def _video(task: Task, url: str) -> dict[str, str]:
    video = {"id": f"{task.id}-0", "url": url, "duration": f"{task.options.get('duration') or 0:.1f}"}
    if task.options.get("watermark"):
        video["watermark_url"] = f"{url}&watermark=1"
    return video


def _units(task: Task) -> str:
    seconds = float(task.options.get("duration") or 0)
    return f"{math.ceil(seconds) * UNITS_PER_SECOND[str(task.options['mode'])]:g}"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
