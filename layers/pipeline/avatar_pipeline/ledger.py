"""Paid provider calls, recorded around the call: the intent before it, the task id right after it.

Each stage of an attempt is ``submissions.<stage>`` on the job's item and moves ``intent`` → ``accepted`` (task id
recorded), ``intent`` → ``not_sent`` (the provider provably created nothing, so it may be sent again) or
``intent`` → ``unknown`` (the provider may have created a task that cannot be looked up; the job ends naming it).
An ``intent`` a run finds already there was left by a run that died mid-call: it is never sent again blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from .errors import JobCancelled
from .jobs import JobStore

State = Literal["intent", "accepted", "not_sent", "unknown"]


class Submission(BaseModel):
    stage: str
    state: State
    provider: str
    intent_at: str
    external_id: str
    inputs: dict[str, str]
    task_id: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Ledger:
    store: JobStore
    job_id: str
    attempt: int
    execution_arn: str

    def begin(self, intent: Submission, now: datetime) -> Submission | None:
        """Records the intent, or returns the stage's earlier record, which the caller must honour.

        Raises ``JobCancelled`` when this run no longer owns a running attempt (cancelled, or superseded):
        nothing may be paid for then.
        """
        done = self.store.update(
            self.job_id,
            "SET #subs.#stage = :intent, #updated = :now",
            condition=(
                "#attempt = :attempt AND #me = :me AND #status = :running AND "
                "(attribute_not_exists(#subs.#stage) OR #subs.#stage.#state = :not_sent)"
            ),
            names={**self._names(intent.stage), "#status": "status", "#state": "state"},
            values={
                **self._owner(),
                ":intent": intent.model_dump(exclude_none=True),
                ":now": now.isoformat(),
                ":running": "RUNNING",
                ":not_sent": "not_sent",
            },
        )
        if done is not None:
            return None
        item = self.store.get(self.job_id) or {}
        if item.get("attempt") != self.attempt or item.get("execution_arn") != self.execution_arn:
            raise JobCancelled(
                f"job {self.job_id} attempt {self.attempt} is no longer this run's (now attempt {item.get('attempt')}, "
                f"{item.get('status')}); nothing was submitted"
            )
        if item.get("status") != "RUNNING":
            raise JobCancelled(f"job {self.job_id} is {item.get('status')}; nothing was submitted")
        return Submission.model_validate(item["submissions"][intent.stage])

    def accepted(self, stage: str, task_id: str, now: datetime) -> None:
        """Always lands: even a cancelled or superseded run records the task it paid for."""
        stamp = now.isoformat()
        done = self.store.update(
            self.job_id,
            "SET #subs.#stage.#state = :accepted, #subs.#stage.task_id = :task, #subs.#stage.accepted_at = :now, "
            "provider_task_id = :task, #updated = :now",
            condition="#attempt = :attempt AND #me = :me",
            names={**self._names(stage), "#state": "state"},
            values={**self._owner(), ":accepted": "accepted", ":task": task_id, ":now": stamp},
        )
        if done is None:
            entry = {"attempt": self.attempt, "stage": stage, "task_id": task_id, "recorded_at": stamp}
            self.store.update(
                self.job_id,
                "SET orphaned_tasks = list_append(if_not_exists(orphaned_tasks, :empty), :entry)",
                condition=None,
                values={":empty": [], ":entry": [entry]},
            )

    def not_sent(self, stage: str, note: str, now: datetime) -> None:
        self._settle(stage, "not_sent", note, now)

    def unknown(self, stage: str, note: str, now: datetime, possible_task: dict[str, Any]) -> None:
        self._settle(stage, "unknown", note, now, possible_task)

    def _settle(
        self, stage: str, state: State, note: str, now: datetime, possible_task: dict[str, Any] | None = None
    ) -> None:
        extra = ", possible_provider_task = :possible" if possible_task else ""
        values: dict[str, Any] = {**self._owner(), ":state": state, ":note": note, ":now": now.isoformat()}
        if possible_task:
            values[":possible"] = possible_task
        self.store.update(
            self.job_id,
            f"SET #subs.#stage.#state = :state, #subs.#stage.note = :note, #updated = :now{extra}",
            condition="#attempt = :attempt AND #me = :me AND #subs.#stage.#state = :intent",
            names={**self._names(stage), "#state": "state"},
            values={**values, ":intent": "intent"},
        )

    def _names(self, stage: str) -> dict[str, str]:
        return {
            "#subs": "submissions",
            "#stage": stage,
            "#attempt": "attempt",
            "#me": "execution_arn",
            "#updated": "updated_at",
        }

    def _owner(self) -> dict[str, Any]:
        return {":attempt": self.attempt, ":me": self.execution_arn}
