"""What the simulator's blueprints share, and how a provider plugs in."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from flask import Blueprint

from .accounts import Accounts
from .faults import FaultRegistry
from .render_cache import RenderCache
from .settings import SimulatorSettings
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


class ProviderApi(Protocol):
    """One simulated provider: its state, and its routes as methods registered on a blueprint."""

    NAME: ClassVar[str]
    """The provider's key in the credentials, fault specs and stats."""

    def __init__(self, state: SimulatorState) -> None: ...

    def blueprint(self) -> Blueprint: ...
