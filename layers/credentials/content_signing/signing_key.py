"""The C2PA signing key from the provider secret's ``c2pa`` entry (design: *AIGC labelling and content
credentials*), read through Powertools Parameters with the same one-minute cache as the provider credentials, so a
rotated key signs within a minute. No message quotes the secret."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

from .stored_video import SigningKey

CACHE_SECONDS = 60


class UnusableSecret(Exception):
    """The provider secret is not a JSON object (its content is never quoted)."""


def signing_key(secret_arn: str) -> SigningKey | None:
    """The key, or None when the secret holds no complete ``c2pa`` entry (signing is off)."""
    try:
        secret = parameters.get_secret(secret_arn, transform="json", max_age=CACHE_SECONDS)
    except TransformParameterError:
        raise UnusableSecret("the provider secret is not a JSON document") from None
    if not isinstance(secret, dict):
        raise UnusableSecret("the provider secret is not a JSON object")
    entry = secret.get("c2pa")
    if not isinstance(entry, dict):
        return None
    chain, key, tsa_url = entry.get("certificate_chain"), entry.get("private_key"), entry.get("tsa_url")
    if not (isinstance(chain, str) and chain and isinstance(key, str) and key):
        return None
    return SigningKey(chain, key, tsa_url if isinstance(tsa_url, str) and tsa_url else None)
