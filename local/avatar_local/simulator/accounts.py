"""Provider accounts: the gate every task creation passes (concurrency limit, submit throttling) and its counters.

A create claims a slot of its provider's account once the request is known to be valid, before any task exists:

- refused (counted in ``refused_limit``) when the account already has ``concurrency[provider]`` tasks in flight;
- otherwise refused (``refused_ratio``) when the throttle draw picks it, for a ``submit_throttle_ratio`` share;
- otherwise the slot is in flight until the task it becomes ends (``Slot.release``). A create that ends without a
  task (a problem found after the claim) gives the slot back, with no busy time.

Checking and taking a slot happen under one lock, so concurrent creates never push an account past its limit.
The provider answers a refusal with its own throttling code.

The throttle draw of the n-th create of an account that found a free slot is sha256(seed, provider, n) < ratio,
so a seed and ratio refuse the same creates in every run. n counts from 0 again after a stats reset and whenever
the seed or that account's ratio changes.
"""

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .settings import ACCOUNTS, SimulatorSettings


@dataclass
class _Account:
    in_flight: int = 0
    peak_in_flight: int = 0
    busy_seconds: float = 0.0
    refused_limit: int = 0
    refused_ratio: int = 0
    draws: int = 0
    draws_for: tuple[int, float] = (0, 0.0)
    """The (seed, ratio) the draws so far were made with."""


class Slot:
    """One task's place in its account: taken by the create, given back when the task ends."""

    def __init__(self, give_back: Callable[[float | None], None]) -> None:
        self._give_back = give_back
        self._started: float | None = None

    @property
    def started(self) -> bool:
        return self._started is not None

    def start(self) -> None:
        """The task exists: it is busy from now until ``release``."""
        self._started = time.monotonic()

    def release(self) -> None:
        """Give the slot back: called once, by the task as it ends, or by ``claim`` if no task took the slot."""
        self._give_back(None if self._started is None else time.monotonic() - self._started)


class Accounts:
    def __init__(self, settings: SimulatorSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._accounts = {name: _Account() for name in ACCOUNTS}

    @contextmanager
    def claim(self, provider: str) -> Iterator[Slot | None]:
        """A slot for one create, or None if the provider refuses it; unused by a task, it is given back on exit."""
        slot = self._admit(provider)
        try:
            yield slot
        finally:
            if slot is not None and not slot.started:
                slot.release()

    def snapshot(self) -> dict[str, dict[str, object]]:
        with self._lock:
            return {
                name: {
                    "limit": self._settings.limit(name),
                    "in_flight": account.in_flight,
                    "peak_in_flight": account.peak_in_flight,
                    "busy_seconds": round(account.busy_seconds, 3),
                    "refused_limit": account.refused_limit,
                    "refused_ratio": account.refused_ratio,
                }
                for name, account in self._accounts.items()
            }

    def reset(self) -> None:
        """Peaks start again from the tasks in flight now; counters and throttle draws from zero."""
        with self._lock:
            for account in self._accounts.values():
                account.peak_in_flight = account.in_flight
                account.busy_seconds = 0.0
                account.refused_limit = account.refused_ratio = account.draws = 0

    def _admit(self, provider: str) -> Slot | None:
        limit, ratio = self._settings.limit(provider), self._settings.throttle_ratio(provider)
        seed = self._settings.submit_throttle_seed
        with self._lock:
            account = self._accounts[provider]
            if limit and account.in_flight >= limit:
                account.refused_limit += 1
                return None
            if ratio and _draw(account, provider, seed, ratio) < ratio:
                account.refused_ratio += 1
                return None
            account.in_flight += 1
            account.peak_in_flight = max(account.peak_in_flight, account.in_flight)
        return Slot(lambda busy_seconds: self._give_back(provider, busy_seconds))

    def _give_back(self, provider: str, busy_seconds: float | None) -> None:
        with self._lock:
            account = self._accounts[provider]
            account.in_flight -= 1
            account.busy_seconds += busy_seconds or 0.0


def _draw(account: _Account, provider: str, seed: int, ratio: float) -> float:
    """The account's next throttle draw, uniform in [0, 1)."""
    if account.draws_for != (seed, ratio):
        account.draws, account.draws_for = 0, (seed, ratio)
    digest = hashlib.sha256(f"{seed}:{provider}:{account.draws}".encode()).digest()
    account.draws += 1
    return int.from_bytes(digest[:8], "big") / 2**64
