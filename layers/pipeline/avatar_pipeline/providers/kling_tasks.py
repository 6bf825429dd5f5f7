"""Kling's task object (the ``data`` of a task query, and of an old-style callback)."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

from .callback_signatures import ForgedCallback


class KlingVideo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    url: str | None = None
    duration: str | float | None = None


class KlingTaskResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    videos: list[KlingVideo] = Field(default_factory=list)


class KlingTaskInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    external_task_id: str | None = None


class KlingTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: str = Field(min_length=1)
    task_status: str = ""
    task_status_msg: str | None = None
    task_result: KlingTaskResult | None = None
    task_info: KlingTaskInfo | None = None
    created_at: int | None = None  # milliseconds since the epoch
    updated_at: int | None = None  # milliseconds since the epoch: the last status change
    final_unit_deduction: str | float | None = None  # the units the finished task was charged, as Kling reports

    @property
    def video_url(self) -> str | None:
        videos = self.task_result.videos if self.task_result else []
        return videos[0].url if videos and videos[0].url else None


def callback_task_id(body: bytes) -> str:
    """The task a callback names (old style ``task_id``, new style ``id``); ``ForgedCallback`` if it names none."""
    try:
        raw = json.loads(body)
    except ValueError:
        raise ForgedCallback("the callback body is not JSON") from None
    data = raw.get("data", raw) if isinstance(raw, dict) else None
    task_id = data.get("task_id") or data.get("id") if isinstance(data, dict) else None
    if not isinstance(task_id, str) or not task_id:
        raise ForgedCallback("the callback names no task")
    return task_id
