"""Provider credentials, read from the one Secrets Manager secret with a short cache so rotation lands fast."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters

from .errors import ProviderRejected
from .settings import required_env

CACHE_SECONDS = 60


def provider_credentials(section: str) -> dict[str, Any]:
    """The secret's entry for one provider family (``wavespeed``, ``volcengine``, ``kling``)."""
    secret = parameters.get_secret(required_env("PROVIDER_SECRET_ARN"), transform="json", max_age=CACHE_SECONDS)
    entry = secret.get(section) if isinstance(secret, dict) else None
    if not isinstance(entry, dict) or not any(entry.values()):
        raise ProviderRejected(f"the provider secret has no credentials for '{section}'")
    return entry
