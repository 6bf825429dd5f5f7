"""Runtime-tunable simulator behaviour: timings, and per provider account limits and throttling.

Shape (``GET /_simulator/settings`` shows all of it; ``POST`` takes any part of it)::

    {
      "task_seconds": 2.0,                 # generation time of every task (a minimum: rendering may take longer)
      "result_url_ttl_seconds": 3600.0,
      "download_timeout_seconds": 30.0,
      "submit_throttle_seed": 0,           # picks which creates submit_throttle_ratio refuses (see accounts.py)
      "concurrency": {"wavespeed": 0, "volcengine": 0, "kling": 0},
      "task_seconds_by_provider": {"wavespeed": null, "volcengine": null, "kling": null},
      "submit_throttle_ratio": {"wavespeed": 0.0, "volcengine": 0.0, "kling": 0.0}
    }

- ``concurrency``: tasks an account may have in flight (accepted and not yet finished); 0 = unlimited. The three
  WaveSpeed models share the ``wavespeed`` account; Volcengine's subject recognition tasks count on ``volcengine``.
- ``task_seconds_by_provider``: that provider's generation time instead of ``task_seconds``; null = not overridden.
- ``submit_throttle_ratio``: the share (0 to 1) of creates with a free slot answered with the provider's throttling
  code anyway.

An update is all or nothing, and merges per provider: ``{"concurrency": {"kling": 3}}`` changes Kling's limit only,
and null puts a provider's entry back to its default. ``avatar-pipeline local up --simulator-setting`` takes the same
settings as ``KEY=VALUE`` with dotted per-provider keys (``concurrency.kling=3 task_seconds=12``), see
``SimulatorSettings.from_assignments``.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

ACCOUNTS = ("wavespeed", "volcengine", "kling")
_NUMBERS = ("task_seconds", "result_url_ttl_seconds", "download_timeout_seconds")
_SEED = "submit_throttle_seed"
_PER_PROVIDER = ("concurrency", "task_seconds_by_provider", "submit_throttle_ratio")


@dataclass
class SimulatorSettings:
    task_seconds: float = 2.0
    """Minimum time a task spends between creation and completion."""
    result_url_ttl_seconds: float = 3600.0
    """How long a served result URL stays valid."""
    download_timeout_seconds: float = 30.0
    """Timeout for downloading a task's inputs."""
    submit_throttle_seed: int = 0
    concurrency: dict[str, int] = field(default_factory=dict)
    """Limit of tasks in flight per account; absent = unlimited."""
    task_seconds_by_provider: dict[str, float] = field(default_factory=dict)
    submit_throttle_ratio: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        given = {setting.name: getattr(self, setting.name) for setting in fields(self)}
        self.concurrency, self.task_seconds_by_provider, self.submit_throttle_ratio = {}, {}, {}
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
        values: dict[str, object] = {}
        for name, value in changes.items():
            if name in _NUMBERS:
                values[name] = _number(name, value)
            elif name == _SEED:
                values[name] = _integer(name, value)
            elif name in _PER_PROVIDER:
                values[name] = self._merged(name, value)
            else:
                raise ValueError(f"unknown setting: {name}")
        for name, parsed in values.items():
            setattr(self, name, parsed)

    def limit(self, provider: str) -> int:
        """The account's limit of tasks in flight; 0 = unlimited."""
        return self.concurrency.get(provider, 0)

    def task_seconds_for(self, provider: str) -> float:
        return self.task_seconds_by_provider.get(provider, self.task_seconds)

    def throttle_ratio(self, provider: str) -> float:
        return self.submit_throttle_ratio.get(provider, 0.0)

    def as_dict(self) -> dict[str, object]:
        return {
            **{name: getattr(self, name) for name in (*_NUMBERS, _SEED)},
            "concurrency": {account: self.limit(account) for account in ACCOUNTS},
            "task_seconds_by_provider": {account: self.task_seconds_by_provider.get(account) for account in ACCOUNTS},
            "submit_throttle_ratio": {account: self.throttle_ratio(account) for account in ACCOUNTS},
        }

    def _merged(self, name: str, changes: object) -> dict[str, float]:
        """A new map (readers never see one half-changed); null or a default value drops the provider's entry."""
        if not isinstance(changes, Mapping):
            raise ValueError(f"{name} must be an object keyed by provider ({', '.join(ACCOUNTS)})")
        merged: dict[str, float] = dict(getattr(self, name))
        for provider, value in changes.items():
            if provider not in ACCOUNTS:
                raise ValueError(f"{name}: unknown provider {provider!r}, expected one of {', '.join(ACCOUNTS)}")
            path = f"{name}.{provider}"
            parsed: float | None
            if value is None:
                parsed = None
            elif name == "concurrency":
                parsed = _integer(path, value) or None
            elif name == "submit_throttle_ratio":
                parsed = _number(path, value, high=1.0) or None
            else:
                parsed = _number(path, value)
            if parsed is None:
                merged.pop(provider, None)
            else:
                merged[provider] = parsed
        return merged


def _number(name: str, value: object, *, high: float = math.inf) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and 0 <= value <= high)
    ):
        bounds = "a non-negative number" if high == math.inf else f"a number from 0 to {high:g}"
        raise ValueError(f"{name} must be {bounds}")
    return float(value)


def _integer(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value
