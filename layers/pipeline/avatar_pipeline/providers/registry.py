"""Provider id → adapter factory. Adding a provider is one module and one row here (plus its capabilities)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ..capabilities import (
    KLING_AVATAR,
    VOLCENGINE_OMNIHUMAN_15,
    WAVESPEED_HUNYUAN_AVATAR,
    WAVESPEED_OMNIHUMAN,
    WAVESPEED_OMNIHUMAN_15,
    ProviderCapabilities,
)
from ..errors import InvalidRequest
from ..settings import required_env
from . import kling, volcengine, wavespeed
from .base import ProviderAdapter
from .http import container_client

# The provider ids of the design contract; the registry and the capability table must cover exactly these.
CONTRACT_PROVIDER_IDS: tuple[str, ...] = (
    "volcengine/omnihuman-1.5",
    "wavespeed/omnihuman",
    "wavespeed/omnihuman-1.5",
    "wavespeed/hunyuan-avatar",
    "kling/avatar",
)


@dataclass(frozen=True)
class ProviderEntry:
    capabilities: ProviderCapabilities
    base_url_env: str
    factory: Callable[[ProviderCapabilities, str, httpx.Client], ProviderAdapter]


PROVIDERS: dict[str, ProviderEntry] = {
    "volcengine/omnihuman-1.5": ProviderEntry(
        VOLCENGINE_OMNIHUMAN_15, "VOLCENGINE_BASE_URL", volcengine.VolcengineAdapter
    ),
    "wavespeed/omnihuman": ProviderEntry(WAVESPEED_OMNIHUMAN, "WAVESPEED_BASE_URL", wavespeed.WaveSpeedAdapter),
    "wavespeed/omnihuman-1.5": ProviderEntry(WAVESPEED_OMNIHUMAN_15, "WAVESPEED_BASE_URL", wavespeed.WaveSpeedAdapter),
    "wavespeed/hunyuan-avatar": ProviderEntry(
        WAVESPEED_HUNYUAN_AVATAR, "WAVESPEED_BASE_URL", wavespeed.WaveSpeedAdapter
    ),
    "kling/avatar": ProviderEntry(KLING_AVATAR, "KLING_BASE_URL", kling.KlingAdapter),
}


def provider_entry(provider_id: str) -> ProviderEntry:
    entry = PROVIDERS.get(provider_id)
    if entry is None:
        raise InvalidRequest(f"unknown provider {provider_id!r}; available: {', '.join(sorted(PROVIDERS))}")
    return entry


def adapter_for(provider_id: str, client: httpx.Client | None = None) -> ProviderAdapter:
    entry = provider_entry(provider_id)
    return entry.factory(entry.capabilities, required_env(entry.base_url_env), client or container_client())
