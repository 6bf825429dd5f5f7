"""Provider id → adapter factory. Adding a provider is one module and one row here (plus its capabilities).

An adapter's module is imported when a job first needs it: a cold start pays for the job's provider, not for all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import httpx
from pydantic import Field

from ..capabilities import (
    KLING_AVATAR,
    VOLCENGINE_OMNIHUMAN_15,
    WAVESPEED_HUNYUAN_AVATAR,
    WAVESPEED_OMNIHUMAN,
    WAVESPEED_OMNIHUMAN_15,
    ProviderCapabilities,
    capabilities_of,
)
from ..provider_accounts import account_of
from ..settings import DEFAULT_TIMEOUT_SECONDS, EnvSettings, ProviderTimeoutSeconds
from .base import ProviderAdapter

# The provider ids of the design contract; the registry and the capability table must cover exactly these.
CONTRACT_PROVIDER_IDS: tuple[str, ...] = (
    "volcengine/omnihuman-1.5",
    "wavespeed/omnihuman",
    "wavespeed/omnihuman-1.5",
    "wavespeed/hunyuan-avatar",
    "kling/avatar",
)


class ProviderSettings(EnvSettings):
    """Where each provider family is reached, how long an answer may take, and the secret holding its keys."""

    wavespeed_base_url: str = Field(alias="WAVESPEED_BASE_URL")
    volcengine_base_url: str = Field(alias="VOLCENGINE_BASE_URL")
    kling_base_url: str = Field(alias="KLING_BASE_URL")
    provider_timeout_seconds: ProviderTimeoutSeconds = DEFAULT_TIMEOUT_SECONDS
    provider_secret_arn: str = Field(alias="PROVIDER_SECRET_ARN")

    def base_url(self, provider_id: str) -> str:
        """The base URL of the provider family (the account) a provider id belongs to."""
        urls = {
            "wavespeed": self.wavespeed_base_url,
            "volcengine": self.volcengine_base_url,
            "kling": self.kling_base_url,
        }
        return urls[account_of(provider_id)]


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
