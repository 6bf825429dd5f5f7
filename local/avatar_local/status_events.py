"""Execution status-change events, which Step Functions puts on the default event bus and moto's interpreter does not.

On AWS every status change of a standard workflow's execution becomes a ``Step Functions Execution Status Change``
event (source ``aws.states``, the execution's ARN as its resource). Here the change is caught where moto makes
it: RUNNING as ``Execution.start`` starts the interpreter, the final status when
``BaseExecutionWorkerCommunication.terminated`` has recorded how the program ended, and ABORTED as soon as
``Execution.stop`` has marked the execution stopped (``stop_execution`` makes that immediate). Each event is built
at the change and put through moto's EventBridge backend by one thread, in order: rule delivery never runs on an
interpreter thread or inside a request, and a RUNNING event always comes before its execution's final one.

Patches moto 5.2.x (checked with 5.2.5), which lacks this: no execution status-change events.
``tests/integration/test_moto_upstream.py`` (test_status_events_an_execution_puts_no_status_change_event) fails once
an upgrade brings it; then this module goes.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.events.models import events_backends
from moto.stepfunctions.parser.api import ExecutionStatus, StateMachineType
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

from .patching import replace

log = logging.getLogger(__name__)

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
_STOP_TIMEOUT_SECONDS = 10


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _json_text(value: Any) -> str:
    """An output as DescribeExecution shows it."""
    return value if isinstance(value, str) else json.dumps(value)


def status_change_detail(execution: Execution, status: ExecutionStatus) -> dict[str, Any]:
    ended = status != ExecutionStatus.RUNNING
    succeeded = status == ExecutionStatus.SUCCEEDED
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": status.value,
        "startDate": _epoch_ms(execution.start_date),
        "stopDate": _epoch_ms(execution.stop_date) if ended and execution.stop_date else None,
        "input": execution.execution_input,
        "inputDetails": {"included": True},
        "output": _json_text(execution.output) if succeeded else None,
        "outputDetails": {"included": True} if succeeded else None,
        "error": execution.error if ended else None,
        "cause": execution.cause if ended else None,
    }


class _Emitter:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, str, dict[str, Any]] | None] = queue.SimpleQueue()
        self._ended: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sfn-status-events", daemon=True)
        self._thread.start()

    def started(self, execution: Execution) -> None:
        self._put(execution, ExecutionStatus.RUNNING)

    def maybe_ended(self, execution: Execution) -> None:
        """Puts the final status once, whichever of the stop and the program's end reports it first."""
        status = execution.exec_status
        if status is None or status == ExecutionStatus.RUNNING:
            return
        with self._lock:
            if execution.exec_arn in self._ended:
                return
            self._ended.add(execution.exec_arn)
        self._put(execution, status)

    def _put(self, execution: Execution, status: ExecutionStatus) -> None:
        if execution.sm_type == StateMachineType.EXPRESS:  # AWS sends these for standard workflows only
            return
        changed = execution.stop_date if status != ExecutionStatus.RUNNING and execution.stop_date else None
        entry = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Resources": [execution.exec_arn],
            "Detail": json.dumps(status_change_detail(execution, status)),
            "Time": (changed or execution.start_date).timestamp(),
        }
        self._queue.put((execution.account_id, execution.region_name, entry))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            account, region, entry = item
            try:
                for result in events_backends[account][region].put_events([entry]):
                    if "ErrorCode" in result:
                        log.error("status-change event not put: %s", result)
            except Exception:
                log.exception("status-change event for %s not put", entry["Resources"][0])

    def close(self) -> None:
        """Puts what is queued, then stops."""
        self._queue.put(None)
        self._thread.join(_STOP_TIMEOUT_SECONDS)


def install_status_change_events() -> Callable[[], None]:
    """Patches the three places an execution's status changes; returns the function that undoes it."""
    emitter = _Emitter()
    original_start = Execution.start
    original_stop = Execution.stop
    original_terminated = BaseExecutionWorkerCommunication.terminated

    def start(execution: Execution) -> None:
        if execution.exec_worker is None:  # moto refuses a second start
            emitter.started(execution)
        original_start(execution)

    def stop(execution: Execution, stop_date: datetime, error: str | None, cause: str | None) -> None:
        original_stop(execution, stop_date, error, cause)
        emitter.maybe_ended(execution)

    def terminated(communication: BaseExecutionWorkerCommunication) -> None:
        original_terminated(communication)
        emitter.maybe_ended(communication.execution)

    undo = replace(
        (Execution, "start", start),
        (Execution, "stop", stop),
        (BaseExecutionWorkerCommunication, "terminated", terminated),
    )

    def uninstall() -> None:
        undo()
        emitter.close()

    return uninstall
