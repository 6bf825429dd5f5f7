"""What the simulator's blueprints share, and how a provider plugs in."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self

from flask import Blueprint

from .accounts import Accounts
from .callbacks import Callbacks
from .faults import FaultRegistry
from .render_cache import RenderCache
from .settings import ACCOUNTS, SimulatorSettings
from .signing import UrlSigner
from .stats import Stats
from .tasks import TaskStore
from .webhook_signing import StandardSigner, WaveSpeedSigner, WebhookSigner, new_webhook_secret


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
    callbacks: Callbacks
    webhook_secret: str
    """The WaveSpeed account's webhook secret (``whsec_...``): new for each simulator."""

    @classmethod
    def create(cls, credentials: Mapping[str, Any], settings: SimulatorSettings) -> Self:
        """Fresh state: no tasks, faults or stats yet; raises ValueError if Kling's ``webhook_secret`` is malformed."""
        renders = RenderCache()
        webhook_secret = new_webhook_secret()
        signers: dict[str, WebhookSigner] = {
            "wavespeed": WaveSpeedSigner(webhook_secret),
            "kling": StandardSigner.from_secret((credentials.get("kling") or {}).get("webhook_secret")),
        }
        faults = FaultRegistry(ACCOUNTS, {provider: signer.signs for provider, signer in signers.items()})
        stats = Stats()
        return cls(
            credentials=credentials,
            settings=settings,
            tasks=TaskStore(settings, renders),
            faults=faults,
            stats=stats,
            signer=UrlSigner(settings),
            accounts=Accounts(settings),
            renders=renders,
            callbacks=Callbacks(settings, stats, faults, signers),
            webhook_secret=webhook_secret,
        )


class ProviderApi(Protocol):
    """One simulated provider: its state, and its routes as methods registered on a blueprint."""

    def __init__(self, state: SimulatorState) -> None: ...

    def blueprint(self) -> Blueprint: ...
