"""The Step Functions service integration (states:startExecution, .sync, .sync:2) as AWS runs it.

The ASL names the StartExecution parameters and reads the results in PascalCase (StateMachineArn, ExecutionArn,
Status, Output); moto's interpreter hands the PascalCase parameters to boto3 unchanged, which cannot serialise them,
and reads boto3's camelCase answers back as they are. Here the parameters are turned into boto3's names on the way
out and the answers' top-level keys into the ASL's on the way back, so a batch's Map can start and wait for job
executions locally exactly as it does on AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def _pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


def install_sfn_service_integration() -> Callable[[], None]:
    original_parameters = StateTaskServiceSfn._normalise_parameters
    original_response = StateTaskServiceSfn._normalise_response

    def normalise_parameters(
        task: StateTaskServiceSfn,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original_parameters(task, parameters, boto_service_name, service_action_name)
        for key in list(parameters):
            parameters[_camel(key)] = parameters.pop(key)

    def normalise_response(
        task: StateTaskServiceSfn,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original_response(task, response, boto_service_name, service_action_name)
        if isinstance(response, dict):
            for key in list(response):
                response[_pascal(key)] = response.pop(key)

    StateTaskServiceSfn._normalise_parameters = normalise_parameters  # type: ignore[method-assign,assignment]
    StateTaskServiceSfn._normalise_response = normalise_response  # type: ignore[method-assign,assignment]

    def uninstall() -> None:
        StateTaskServiceSfn._normalise_parameters = original_parameters  # type: ignore[method-assign]
        StateTaskServiceSfn._normalise_response = original_response  # type: ignore[method-assign]

    return uninstall
