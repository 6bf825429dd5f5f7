"""Provider id → adapter factory and capabilities. Adding a provider is one module and one row here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
from pydantic import BaseModel

from ..capabilities import WAVESPEED_OMNIHUMAN_15, ProviderCapabilities
from ..errors import InvalidRequest
from ..settings import required_env
from . import wavespeed
from .base import NoOptions, ProviderAdapter
from .http import new_client

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
    factory: Callable[[str, httpx.Client], ProviderAdapter]
    options_model: type[BaseModel] = NoOptions


PROVIDERS: dict[str, ProviderEntry] = {
    "wavespeed/omnihuman-1.5": ProviderEntry(WAVESPEED_OMNIHUMAN_15, "WAVESPEED_BASE_URL", wavespeed.omnihuman_15),
}


def provider_entry(provider_id: str) -> ProviderEntry:
    entry = PROVIDERS.get(provider_id)
    if entry is None:
        available = ", ".join(sorted(PROVIDERS))
        if provider_id in CONTRACT_PROVIDER_IDS:
            raise InvalidRequest(f"provider {provider_id} is not available in this release; available: {available}")
        raise InvalidRequest(f"unknown provider {provider_id!r}; available: {available}")
    return entry


def adapter_for(provider_id: str, client: httpx.Client | None = None) -> ProviderAdapter:
    entry = provider_entry(provider_id)
    return entry.factory(required_env(entry.base_url_env), client or new_client())
