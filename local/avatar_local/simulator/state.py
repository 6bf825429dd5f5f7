"""What the simulator's blueprints share, and how a provider plugs in."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self

from flask import Blueprint

from .accounts import Accounts
from .faults import FaultRegistry
from .render_cache import RenderCache
from .settings import ACCOUNTS, SimulatorSettings
from .signing import UrlSigner
from .stats import Stats
from .tasks import TaskStore


@dataclass(frozen=True)
class SimulatorState:
    credentials: Mapping[str, Any]
    """The provider secret's JSON: ``{"wavespeed": {"api_key": ...}, ...}``."""
    settings: SimulatorSettings
    tasks: TaskStore
    faults: FaultRegistry
    stats: Stats
    signer: UrlSigner
    accounts: Accounts
    renders: RenderCache

    @classmethod
    def create(cls, credentials: Mapping[str, Any], settings: SimulatorSettings) -> Self:
        """Fresh state: no tasks, faults or stats yet."""
        renders = RenderCache()
        return cls(
            credentials=credentials,
            settings=settings,
            tasks=TaskStore(settings, renders),
            faults=FaultRegistry(ACCOUNTS),
            stats=Stats(),
            signer=UrlSigner(settings),
            accounts=Accounts(settings),
            renders=renders,
        )


class ProviderApi(Protocol):
    """One simulated provider: its state, and its routes as methods registered on a blueprint."""

    def __init__(self, state: SimulatorState) -> None: ...

    def blueprint(self) -> Blueprint: ...
