"""Runtime-tunable simulator behaviour: timings, and per provider account limits and throttling.

Shape (``GET /_simulator/settings`` shows all of it; ``POST`` takes any part of it)::

    {
      "task_seconds": 2.0,                 # generation time of every task (a minimum: rendering may take longer)
      "result_url_ttl_seconds": 3600.0,
      "download_timeout_seconds": 30.0,
      "callback_retry_base_seconds": 0.5,  # wait before a callback's first retry, doubling (see callbacks.py)
      "callback_timeout_seconds": 10.0,    # how long one callback POST may take
      "submit_throttle_seed": 0,           # picks which creates submit_throttle_ratio refuses (see accounts.py)
      "concurrency": {"wavespeed": 0, "volcengine": 0, "kling": 0},
      "task_seconds_by_provider": {"wavespeed": null, "volcengine": null, "kling": null},
      "submit_throttle_ratio": {"wavespeed": 0.0, "volcengine": 0.0, "kling": 0.0},
      "result_layout": {"wavespeed": "moov_first", "volcengine": "moov_first", "kling": "moov_first"}
    }

- ``concurrency``: tasks an account may have in flight (accepted and not yet finished); 0 = unlimited. The three
  WaveSpeed models share the ``wavespeed`` account; Volcengine's subject recognition tasks count on ``volcengine``.
- ``task_seconds_by_provider``: that provider's generation time instead of ``task_seconds``; null = not overridden.
- ``submit_throttle_ratio``: the share (0 to 1) of creates with a free slot answered with the provider's throttling
  code anyway.
- ``result_layout``: how that provider's result MP4 is laid out, as real providers' files differ: ``moov_first``
  (faststart, what the renderer makes), ``moov_last``, ``co64`` (64-bit chunk offsets), ``fragmented`` (absolute
  moof offsets), ``fragmented_moof_base``, ``with_udta`` (metadata already there, a stale AIGC among it).

An update is all or nothing, and merges per provider: ``{"concurrency": {"kling": 3}}`` changes Kling's limit only,
and null puts a provider's entry back to its default. ``avatar-pipeline local up --simulator-setting`` takes the same
settings as ``KEY=VALUE`` with dotted per-provider keys (``concurrency.kling=3 task_seconds=12``), see
``SimulatorSettings.from_assignments``.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import Field

from .bodies import RequestBody

Account = Literal["wavespeed", "volcengine", "kling"]
# How the result MP4 is laid out (simulator/mp4_variants.py); the renderer makes moov_first.
ResultLayout = Literal["moov_first", "moov_last", "co64", "fragmented", "fragmented_moof_base", "with_udta"]
DEFAULT_LAYOUT = "moov_first"
ACCOUNTS: tuple[str, ...] = get_args(Account)
_NUMBERS = (
    "task_seconds",
    "result_url_ttl_seconds",
    "download_timeout_seconds",
    "callback_retry_base_seconds",
    "callback_timeout_seconds",
)
_PER_PROVIDER = {
    "concurrency": "a non-negative integer",
    "task_seconds_by_provider": "a non-negative number",
    "submit_throttle_ratio": "a number from 0 to 1",
    "result_layout": "one of " + ", ".join(get_args(ResultLayout)),
}
_PROVIDER_LIST = ", ".join(ACCOUNTS)

Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
Ratio = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class SettingsChange(RequestBody):
    """A change of some settings; per provider, null (or 0 for a limit or ratio) puts back the default."""

    problems: ClassVar = {
        **{name: f"{name} must be a non-negative number" for name in _NUMBERS},
        "submit_throttle_seed": "submit_throttle_seed must be a non-negative integer",
        **{name: f"{name} must be an object keyed by provider ({_PROVIDER_LIST})" for name in _PER_PROVIDER},
        **{
            f"{name}.{account}": f"{name}.{account} must be {kind}"
            for name, kind in _PER_PROVIDER.items()
            for account in ACCOUNTS
        },
        "literal_error": f"{{field}} is not a provider: use one of {_PROVIDER_LIST}",
    }

    task_seconds: Seconds = 0
    result_url_ttl_seconds: Seconds = 0
    download_timeout_seconds: Seconds = 0
    callback_retry_base_seconds: Seconds = 0
    callback_timeout_seconds: Seconds = 0
    submit_throttle_seed: Count = 0
    concurrency: dict[Account, Count | None] = {}
    task_seconds_by_provider: dict[Account, Seconds | None] = {}
    submit_throttle_ratio: dict[Account, Ratio | None] = {}
    result_layout: dict[Account, ResultLayout | None] = {}


@dataclass
class SimulatorSettings:
    task_seconds: float = 2.0
    """Minimum time a task spends between creation and completion."""
    result_url_ttl_seconds: float = 3600.0
    """How long a served result URL stays valid."""
    download_timeout_seconds: float = 30.0
    """Timeout for downloading a task's inputs."""
    callback_retry_base_seconds: float = 0.5
    """Wait before a callback's first retry; it doubles for each next one."""
    callback_timeout_seconds: float = 10.0
    """Timeout of one callback POST."""
    submit_throttle_seed: int = 0
    concurrency: dict[str, int] = field(default_factory=dict)
    """Limit of tasks in flight per account; absent = unlimited."""
    task_seconds_by_provider: dict[str, float] = field(default_factory=dict)
    submit_throttle_ratio: dict[str, float] = field(default_factory=dict)
    result_layout: dict[str, str] = field(default_factory=dict)
    """The layout of each provider's result MP4; absent = moov_first."""

    def __post_init__(self) -> None:
        given = {setting.name: getattr(self, setting.name) for setting in fields(self)}
        self.concurrency, self.task_seconds_by_provider, self.submit_throttle_ratio = {}, {}, {}
        self.result_layout = {}
        self.update(given)

    @classmethod
    def from_assignments(cls, assignments: Iterable[str]) -> "SimulatorSettings":
        """Defaults changed by ``KEY=VALUE`` items (``task_seconds=12``, ``concurrency.kling=3``); raises ValueError."""
        changes: dict[str, object] = {}
        for assignment in assignments:
            key, sep, text = assignment.partition("=")
            name, dot, provider = key.strip().partition(".")
            try:
                value = json.loads(text)
            except ValueError:
                value = text
            if not sep or not name or (dot and not provider):
                raise ValueError(f"expected KEY=VALUE or KEY.PROVIDER=VALUE, got {assignment!r}")
            if dot:
                nested = changes.setdefault(name, {})
                if not isinstance(nested, dict):
                    raise ValueError(f"{name} is given both as a whole and per provider")
                nested[provider] = value
            else:
                changes[name] = value
        settings = cls()
        settings.update(changes)
        return settings

    def update(self, changes: Mapping[str, object]) -> None:
        """Apply a JSON object of changes; raises ValueError (changing nothing) if any is invalid."""
        given = SettingsChange.parse(changes).model_dump(exclude_unset=True)
        for name, value in given.items():
            setattr(self, name, self._merged(name, value) if name in _PER_PROVIDER else value)

    def limit(self, provider: str) -> int:
        """The account's limit of tasks in flight; 0 = unlimited."""
        return self.concurrency.get(provider, 0)

    def task_seconds_for(self, provider: str) -> float:
        return self.task_seconds_by_provider.get(provider, self.task_seconds)

    def throttle_ratio(self, provider: str) -> float:
        return self.submit_throttle_ratio.get(provider, 0.0)

    def layout_for(self, provider: str) -> str:
        return self.result_layout.get(provider, DEFAULT_LAYOUT)

    def as_dict(self) -> dict[str, object]:
        return {
            **{name: getattr(self, name) for name in (*_NUMBERS, "submit_throttle_seed")},
            "concurrency": {account: self.limit(account) for account in ACCOUNTS},
            "task_seconds_by_provider": {account: self.task_seconds_by_provider.get(account) for account in ACCOUNTS},
            "submit_throttle_ratio": {account: self.throttle_ratio(account) for account in ACCOUNTS},
            "result_layout": {account: self.layout_for(account) for account in ACCOUNTS},
        }

    def _merged(self, name: str, changes: Mapping[str, float | str | None]) -> dict[str, float | str]:
        """A new map (readers never see one half-changed); null or a default value drops the provider's entry."""
        merged: dict[str, float | str] = dict(getattr(self, name))
        default = {"task_seconds_by_provider": None, "result_layout": DEFAULT_LAYOUT}.get(name, 0)
        for provider, value in changes.items():
            if value is None or value == default:
                merged.pop(provider, None)
            else:
                merged[provider] = value
        return merged
