"""Task store: each task downloads its inputs and renders its video on a background thread.

A task without audio only checks that its image decodes (Volcengine's subject recognition) and makes no video.
A task ends ``task_seconds_for(provider)`` after its creation (or when its render is done, if later), giving its
account slot back as it does. A task's ``on_change`` listener sees it as created, then after each status change, in
order, on the thread that made the change; it must return quickly (callbacks are only queued there).
"""

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .accounts import Slot
from .media import DownloadError, MediaRef, download
from .mp4_variants import relayout
from .render import MediaDecodeError, decode_image
from .render_cache import RenderCache
from .settings import DEFAULT_LAYOUT, SimulatorSettings

logger = logging.getLogger(__name__)

TaskStatus = Literal["queued", "running", "succeeded", "failed"]
"""Provider-neutral lifecycle; each provider maps it to its own status names."""
FINAL_STATUSES: frozenset[TaskStatus] = frozenset({"succeeded", "failed"})


@dataclass(frozen=True)
class Task:
    id: str
    provider: str
    model: str
    image: MediaRef
    audio: MediaRef | None
    created_at: datetime
    options: Mapping[str, Any]
    """Provider-specific request options, for the provider's own responses."""
    status: TaskStatus = "queued"
    error: str = ""
    video: bytes | None = None
    inference_ms: int = 0
    finished_at: datetime | None = None


Listener = Callable[[Task], None]


def ignore(_task: Task) -> None:
    pass


class TaskStore:
    def __init__(self, settings: SimulatorSettings, renders: RenderCache) -> None:
        self._settings = settings
        self._renders = renders
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def create(
        self,
        *,
        provider: str,
        model: str,
        image: MediaRef,
        audio: MediaRef | None,
        options: Mapping[str, Any],
        slot: Slot,
        fail_with: str | None = None,
        on_change: Listener = ignore,
    ) -> Task:
        """Store a new task, holding ``slot`` until it ends, and start it; ``fail_with`` makes it fail so."""
        task = Task(uuid.uuid4().hex, provider, model, image, audio, datetime.now(UTC), options)
        with self._lock:
            self._tasks[task.id] = task
        slot.start()
        on_change(task)
        worker = threading.Thread(
            target=self._process,
            args=(task, time.monotonic(), slot, fail_with, on_change),
            name=f"simulator-task-{task.id[:8]}",
            daemon=True,
        )
        worker.start()
        return task

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def progress(self, task_id: str) -> tuple[TaskStatus, datetime | None]:
        """The task's status and when it ended (None while it runs)."""
        with self._lock:
            task = self._tasks[task_id]
        return task.status, task.finished_at

    def stop(self) -> None:
        """Abandon running tasks (their threads exit instead of completing)."""
        self._stopping.set()

    def _process(self, task: Task, created: float, slot: Slot, fail_with: str | None, on_change: Listener) -> None:
        on_change(self._update(task.id, status="running"))
        video: bytes | None = None
        error = fail_with or ""
        if not error:
            try:
                video = self._work(task)
            except (DownloadError, MediaDecodeError) as exc:
                error = str(exc)
            except Exception as exc:  # a bug must still end the task, not leave it running forever
                logger.exception("simulator task %s crashed", task.id)
                error = f"internal error: {exc}"
        seconds = self._settings.task_seconds_for(task.provider)
        if self._stopping.wait(max(0.0, created + seconds - time.monotonic())):
            return
        # Freed first, so a client that sees the task end finds the slot free.
        slot.release()
        finished_at = datetime.now(UTC)
        finished = self._update(
            task.id,
            status="failed" if error else "succeeded",
            error=error,
            video=video,
            # No queueing here: the whole task is inference, so created_at + inference is when it finished.
            inference_ms=round((finished_at - task.created_at).total_seconds() * 1000),
            finished_at=finished_at,
        )
        on_change(finished)

    def _work(self, task: Task) -> bytes | None:
        timeout = self._settings.download_timeout_seconds
        image = download("image", task.image, timeout=timeout)
        if task.audio is None:
            decode_image(image)
            return None
        video = self._renders.render(image, download("audio", task.audio, timeout=timeout))
        layout = self._settings.layout_for(task.provider)
        return video if layout == DEFAULT_LAYOUT else relayout(video, layout)

    def _update(self, task_id: str, **changes: Any) -> Task:
        with self._lock:
            task = self._tasks[task_id] = dataclasses.replace(self._tasks[task_id], **changes)
        return task
