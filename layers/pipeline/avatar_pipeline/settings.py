"""Typed settings: each function declares the environment its template entry gives it as one model
(``functions/<name>/app.py``: ``class Settings(EnvSettings)``), validated on the container's first invocation and
passed down; nothing below the handler reads the environment. A missing or malformed variable fails that first
invocation with a message naming the variable.

The fields are declared once here, as annotated types carrying the variable's name, and combined per function.
The combinations several functions share live beside the code they configure (``slots``, ``attempt_end``,
``pricing``, ``poll_settings``, ``providers.registry``): a function builds the settings models it uses, not every
function's (each costs a cold start 1 to 3 ms).
"""

from __future__ import annotations

import functools
import os
from typing import Annotated, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

# Read timeout of provider calls, input fetches and result downloads (template parameter ProviderTimeoutSeconds).
DEFAULT_TIMEOUT_SECONDS = 30


class SettingsError(RuntimeError):
    """A variable the function needs is missing or malformed: a deployment error, never a job's."""


class EnvSettings(BaseModel):
    """Fields are named by their variable (``alias``); an empty variable counts as unset."""

    model_config = ConfigDict(frozen=True, extra="ignore")


S = TypeVar("S", bound=EnvSettings)

InputBucket = Annotated[str, Field(alias="INPUT_BUCKET")]
OutputBucket = Annotated[str, Field(alias="OUTPUT_BUCKET")]
JobsTable = Annotated[str, Field(alias="JOBS_TABLE")]
EventBus = Annotated[str, Field(alias="EVENT_BUS_NAME")]
DailyBudgetUsd = Annotated[float, Field(alias="DAILY_BUDGET_USD")]
ProviderTimeoutSeconds = Annotated[int, Field(alias="PROVIDER_TIMEOUT_SECONDS", gt=0)]
AllowLoopback = Annotated[bool, Field(alias="ALLOW_LOOPBACK_ENDPOINTS")]
PresignSeconds = Annotated[int, Field(alias="PRESIGN_SECONDS", gt=0)]
DeploymentId = Annotated[str, Field(alias="DEPLOYMENT_ID")]
JobDeadlineSeconds = Annotated[int, Field(alias="JOB_DEADLINE_SECONDS", gt=0)]
AigcLabelMode = Annotated[Literal["required", "off"], Field(alias="AIGC_LABEL")]
AigcContentProducer = Annotated[str, Field(alias="AIGC_CONTENT_PRODUCER", min_length=1, max_length=256)]
AigcContentPropagator = Annotated[str, Field(alias="AIGC_CONTENT_PROPAGATOR", min_length=1, max_length=256)]


def load_settings(model: type[S]) -> S:
    """``model`` from this process's environment, validated once per distinct environment (once per container)."""
    names = tuple(field.alias or name for name, field in model.model_fields.items())
    return cast(S, _validated(model, tuple((name, os.environ.get(name) or None) for name in names)))


@functools.cache
def _validated(model: type[EnvSettings], given: tuple[tuple[str, str | None], ...]) -> EnvSettings:
    try:
        return model.model_validate({name: value for name, value in given if value is not None})
    except ValidationError as error:
        problems = [_problem(detail) for detail in error.errors(include_url=False)]
        raise SettingsError("; ".join(problems)) from None


def _problem(detail: ErrorDetails) -> str:
    name = str(detail["loc"][0])
    if detail["type"] == "missing":
        return f"environment variable {name} is not set for this function"
    if detail["type"] == "int_parsing":
        return f"environment variable {name} must be an integer, got {detail['input']!r}"
    message = str(detail["msg"]).removeprefix("Value error, ")
    return f"environment variable {name} is invalid ({message}), got {detail['input']!r}"
