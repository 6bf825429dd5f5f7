"""Typed settings: each function declares the environment its template entry gives it as one model
(``functions/<name>/app.py``: ``class Settings(EnvSettings)``), validated on the container's first invocation and
passed down; nothing below the handler reads the environment. A missing or malformed variable fails that first
invocation with a message naming the variable.

The fields are declared once here, as annotated types carrying the variable's name, and combined per function.
"""

from __future__ import annotations

import functools
import os
from typing import Annotated, Literal, TypeVar, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from .polling import PollPolicy
from .pricing import PriceBook, parse_prices
from .provider_accounts import account_of, parse_limits

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
Limits = Annotated[dict[str, int], BeforeValidator(parse_limits), Field(alias="PROVIDER_CONCURRENCY")]
Prices = Annotated[dict[str, float], BeforeValidator(parse_prices), Field(alias="PROVIDER_PRICES")]
KlingUsdPerUnit = Annotated[float, Field(alias="KLING_USD_PER_UNIT", ge=0)]


class AdmissionSettings(EnvSettings):
    """The admission table, and how many tasks each provider account may have in flight."""

    admission_table: str = Field(alias="ADMISSION_TABLE")
    provider_concurrency: Limits
    job_deadline_seconds: JobDeadlineSeconds = 10800


class SlotsSettings(AdmissionSettings):
    """As above, plus the dispatcher asked to hand a freed slot on."""

    dispatcher_function: str = Field(alias="DISPATCHER_FUNCTION")


class AttemptEndSettings(SlotsSettings):
    """What an attempt's end sets free: its slot and its budget reservation."""

    daily_budget_usd: DailyBudgetUsd


class PricingSettings(EnvSettings):
    """The stack's own prices (template parameters VolcenginePriceUsdPerSecond, KlingPriceUsdPerSecond and
    KlingUsdPerUnit), for a finished job's costs."""

    provider_prices: Prices
    kling_usd_per_unit: KlingUsdPerUnit = 0.0

    def price_book(self) -> PriceBook:
        return PriceBook(per_second=self.provider_prices, kling_usd_per_unit=self.kling_usd_per_unit)


class PollSettings(EnvSettings):
    poll_min_seconds: int = Field(5, alias="POLL_MIN_SECONDS")
    poll_max_seconds: int = Field(120, alias="POLL_MAX_SECONDS")
    poll_first_wait_max_seconds: int = Field(0, alias="POLL_FIRST_WAIT_MAX_SECONDS")
    max_polls: int = Field(200, alias="MAX_POLLS")
    job_deadline_seconds: JobDeadlineSeconds = 10800

    def policy(self) -> PollPolicy:
        return PollPolicy(
            min_seconds=self.poll_min_seconds,
            max_seconds=self.poll_max_seconds,
            first_wait_max_seconds=self.poll_first_wait_max_seconds,
            max_polls=self.max_polls,
            deadline_seconds=self.job_deadline_seconds,
        )


class ProviderSettings(EnvSettings):
    """Where each provider family is reached, how long an answer may take, and the secret holding its keys."""

    wavespeed_base_url: str = Field(alias="WAVESPEED_BASE_URL")
    volcengine_base_url: str = Field(alias="VOLCENGINE_BASE_URL")
    kling_base_url: str = Field(alias="KLING_BASE_URL")
    provider_timeout_seconds: ProviderTimeoutSeconds = DEFAULT_TIMEOUT_SECONDS
    provider_secret_arn: str = Field(alias="PROVIDER_SECRET_ARN")

    def base_url(self, provider_id: str) -> str:
        """The base URL of the provider family (the account) a provider id belongs to."""
        urls = {
            "wavespeed": self.wavespeed_base_url,
            "volcengine": self.volcengine_base_url,
            "kling": self.kling_base_url,
        }
        return urls[account_of(provider_id)]


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
