"""Step Functions' service integrations as AWS runs them.

- ``states:startExecution`` (and ``.sync``, ``.sync:2``): the ASL names the StartExecution parameters and reads the
  results in PascalCase (StateMachineArn, ExecutionArn, Status, Output); moto's interpreter hands the PascalCase
  parameters to boto3 unchanged, which cannot serialise them, and reads boto3's camelCase answers back as they are.
  Here the parameters are turned into boto3's names on the way out and the answers' top-level keys into the ASL's
  on the way back, so a batch's Map can start and wait for job executions locally exactly as it does on AWS.
- A Lambda task whose invoke the Lambda service refuses (a 500 ServiceException, a 429 TooManyRequestsException)
  fails on AWS with ``Lambda.<the exception's name>``, which a state's Retry names; moto calls every such failure
  ``Exception``, which no Retry matches.

Patches moto 5.2.x (checked with 5.2.5), which lacks this: StartExecution parameters are not translated, and a
refused Lambda invoke is called Exception. ``tests/integration/test_moto_upstream.py``
(test_sfn_integration_start_execution_parameters_are_not_translated and
..._a_refused_lambda_invoke_is_called_exception) fails once an upgrade brings it; then this module goes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from .patching import replace


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

    original_lambda_error = StateTaskLambda._from_error

    def lambda_error(task: StateTaskLambda, env: Environment, ex: Exception) -> FailureEvent:
        if not isinstance(ex, ClientError):
            return original_lambda_error(task, env, ex)
        code = str(ex.response.get("Error", {}).get("Code") or "")
        name = f"Lambda.{code if code and not code.isdigit() else 'ServiceException'}"
        details = LambdaFunctionFailedEventDetails(error=name, cause=str(ex.response["Error"].get("Message", "")))
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(name),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(lambdaFunctionFailedEventDetails=details),  # type: ignore[typeddict-item]
        )

    return replace(
        (StateTaskLambda, "_from_error", lambda_error),
        (StateTaskServiceSfn, "_normalise_parameters", normalise_parameters),
        (StateTaskServiceSfn, "_normalise_response", normalise_response),
    )
