"""Provider id → adapter factory. Adding a provider is one module and one row here (plus its capabilities).

An adapter's module is imported when a job first needs it: a cold start pays for the job's provider, not for all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import httpx

from ..capabilities import (
    KLING_AVATAR,
    VOLCENGINE_OMNIHUMAN_15,
    WAVESPEED_HUNYUAN_AVATAR,
    WAVESPEED_OMNIHUMAN,
    WAVESPEED_OMNIHUMAN_15,
    ProviderCapabilities,
    capabilities_of,
)
from .base import ProviderAdapter

if TYPE_CHECKING:
    from ..settings import ProviderSettings

# The provider ids of the design contract; the registry and the capability table must cover exactly these.
CONTRACT_PROVIDER_IDS: tuple[str, ...] = (
    "volcengine/omnihuman-1.5",
    "wavespeed/omnihuman",
    "wavespeed/omnihuman-1.5",
    "wavespeed/hunyuan-avatar",
    "kling/avatar",
)


AdapterFactory = Callable[[ProviderCapabilities, str, httpx.Client, str], ProviderAdapter]


@dataclass(frozen=True)
class ProviderEntry:
    capabilities: ProviderCapabilities
    adapter: str
    """``<module of this package>.<class>``: the ProviderAdapter subclass that talks to the provider."""

    @property
    def factory(self) -> AdapterFactory:
        module, _, name = self.adapter.rpartition(".")
        adapter = getattr(importlib.import_module(f"{__package__}.{module}"), name)
        if not (isinstance(adapter, type) and issubclass(adapter, ProviderAdapter)):
            raise TypeError(f"{self.adapter} is not a ProviderAdapter")
        return cast(AdapterFactory, adapter)


PROVIDERS: dict[str, ProviderEntry] = {
    "volcengine/omnihuman-1.5": ProviderEntry(VOLCENGINE_OMNIHUMAN_15, "volcengine.VolcengineAdapter"),
    "wavespeed/omnihuman": ProviderEntry(WAVESPEED_OMNIHUMAN, "wavespeed.WaveSpeedAdapter"),
    "wavespeed/omnihuman-1.5": ProviderEntry(WAVESPEED_OMNIHUMAN_15, "wavespeed.WaveSpeedAdapter"),
    "wavespeed/hunyuan-avatar": ProviderEntry(WAVESPEED_HUNYUAN_AVATAR, "wavespeed.WaveSpeedAdapter"),
    "kling/avatar": ProviderEntry(KLING_AVATAR, "kling.KlingAdapter"),
}


def provider_entry(provider_id: str) -> ProviderEntry:
    capabilities_of(provider_id)  # an unknown id: InvalidRequest naming the known ones (both tables hold the same)
    return PROVIDERS[provider_id]


def adapter_for(provider_id: str, settings: ProviderSettings, client: httpx.Client) -> ProviderAdapter:
    """The adapter for ``provider_id``: its family's base URL, ``client``, and the keys in ``PROVIDER_SECRET_ARN``."""
    entry = provider_entry(provider_id)
    return entry.factory(entry.capabilities, settings.base_url(provider_id), client, settings.provider_secret_arn)
