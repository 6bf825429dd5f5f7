"""Resuming a wait for a callback: done by whichever comes second, the verified outcome or the wait's task token
(``callbacks.py``). A task token that no longer waits (the wait timed out into a status check, the execution was
stopped) is answered with an error Step Functions keeps to itself; the status check then finds the same outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .callbacks import CallbackRecord
from .models import ProviderTask
from .redaction import redact

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

MAX_CAUSE_CHARS = 32768


def resume(record: CallbackRecord, sfn: SFNClient, *, task_done: Callable[[ProviderTask], None]) -> bool:
    """Send the outcome to the waiting execution, if both are there and are about the same task; True if sent."""
    outcome, task, token = record.outcome, record.task, record.task_token
    if outcome is None or task is None or token is None or outcome.task_id != task.task_id:
        return False
    try:
        if outcome.status == "succeeded":
            done = task.model_copy(
                update={
                    "status": "succeeded",
                    "next_wait_seconds": 0,
                    "detected_at": outcome.received_at,
                    "provider_completed_at": outcome.provider_completed_at,
                    "reported_units": outcome.reported_units,
                }
            )
            sfn.send_task_success(taskToken=token, output=done.model_dump_json())
            # After the send, so only the resume that was taken frees the slot (RecordOutcome frees it in any case).
            task_done(task)
        else:
            cause = redact(outcome.cause)[:MAX_CAUSE_CHARS]
            sfn.send_task_failure(taskToken=token, error="ProviderTaskFailed", cause=cause)
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist):
        return False
    return True
