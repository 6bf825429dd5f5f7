"""Runtime-tunable simulator timings."""

from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass
class SimulatorSettings:
    task_seconds: float = 2.0
    """Minimum time a task spends between creation and completion."""
    result_url_ttl_seconds: float = 3600.0
    """How long a served result URL stays valid."""
    download_timeout_seconds: float = 30.0
    """Timeout for downloading a task's inputs."""

    def update(self, changes: Mapping[str, object]) -> None:
        """Apply a JSON object of changes; raises ValueError (changing nothing) if any is invalid."""
        known = {field.name for field in fields(self)}
        values: dict[str, float] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown setting: {name}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
            values[name] = float(value)
        for name, number in values.items():
            setattr(self, name, number)

    def as_dict(self) -> dict[str, float]:
        return {field.name: getattr(self, field.name) for field in fields(self)}
