"""StopExecution and SendTaskFailure as AWS records them, which moto's interpreter does not.

moto's ``stop_execution`` response handler reads only the ARN and its backend stops the execution with
``error=""`` and ``cause=""``; the interpreter keeps them on its ``ProgramStopped`` state (the
``ExecutionAborted`` history event shows them), but ``BaseExecutionWorkerCommunication._reflect_execution_status``
copies neither onto the execution, and the execution stays RUNNING until its current state returns (a Lambda
task runs on to its end). AWS records the request's error and cause (DescribeExecution, ``ExecutionAborted``) and
the execution is ABORTED, with its stop date, as soon as StopExecution answers.

moto's ``send_task_failure`` response handler reads the token and the error but not the cause, so a task failed by
a callback (a provider's own reason for failing a generation) reaches the state machine's ``Catch`` with
``Cause: null``; AWS keeps it.

Patches moto 5.2.x (checked with 5.2.5), which lacks this: StopExecution's error and cause, and SendTaskFailure's
cause, are dropped. ``tests/integration/test_moto_upstream.py`` (test_stop_execution_moto_ignores_the_error_and_cause,
test_send_task_failure_moto_ignores_the_cause) fails once an upgrade brings it; then this module goes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.responses import StepFunctionResponse

from .patching import replace

_STOPPED = "_avatar_stopped"


def _record_stop(execution: Execution) -> None:
    """Copies a stop the interpreter took (it ignores one that comes after the program ended) to the execution.

    A stop that interrupts a ``.waitForTaskToken`` wait ends moto's program with the wait's error rather than as
    stopped, so the stop the interpreter took is also kept on the execution: AWS's execution is ABORTED either way.
    """
    env = execution.exec_worker.env if execution.exec_worker is not None else None
    program_state = env.program_state() if env is not None else None
    if isinstance(program_state, ProgramStopped):
        setattr(execution, _STOPPED, program_state)
    stopped: ProgramStopped | None = getattr(execution, _STOPPED, None)
    if stopped is not None:
        execution.exec_status = ExecutionStatus.ABORTED
        execution.stop_date = stopped.stop_date
        execution.error = stopped.error
        execution.cause = stopped.cause


def install_stop_execution_details() -> Callable[[], None]:
    """Patches the handlers, the stop and the status it leaves; returns the function that undoes it."""
    original_stop = Execution.stop
    original_reflect = BaseExecutionWorkerCommunication._reflect_execution_status

    def stop_execution(response: StepFunctionResponse) -> ActionResult:
        execution = response.stepfunction_backend.describe_execution(response._get_param("executionArn"))
        execution.stop(
            stop_date=datetime.now(UTC), error=response._get_param("error"), cause=response._get_param("cause")
        )
        return ActionResult({"stopDate": execution.stop_date})

    def send_task_failure(response: StepFunctionResponse) -> EmptyResult:
        # The interpreter's backend (execute_state_machine on) takes the cause; the stub typing moto declares does not.
        response.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]
            response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
        )
        return EmptyResult()

    def stop(execution: Execution, stop_date: datetime, error: str | None, cause: str | None) -> None:
        original_stop(execution, stop_date, error, cause)
        _record_stop(execution)

    def reflect_execution_status(communication: BaseExecutionWorkerCommunication) -> None:
        original_reflect(communication)  # type: ignore[no-untyped-call]
        _record_stop(communication.execution)

    return replace(
        (StepFunctionResponse, "stop_execution", stop_execution),
        (StepFunctionResponse, "send_task_failure", send_task_failure),
        (Execution, "stop", stop),
        (BaseExecutionWorkerCommunication, "_reflect_execution_status", reflect_execution_status),
    )
