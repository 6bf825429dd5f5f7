"""Provider credentials, read from the one Secrets Manager secret with a short cache so rotation lands fast.

Every string of the secret is registered for redaction each time it is read, so a rotated key is kept out of
causes and logs as soon as it can be used. A malformed secret is described by its shape, never by its content.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import BotoCoreError, ClientError

from .errors import ProviderRejected, ProviderUnavailable
from .redaction import CREDENTIAL_FIELDS, register_document

CACHE_SECONDS = 60
TRANSIENT_SECRET_ERRORS = frozenset({"ThrottlingException", "InternalServiceError", "ServiceUnavailable"})
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (dict, "an object"),
    (list, "an array"),
    (str, "a string"),
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a number"),
)


def provider_credentials(secret_arn: str, section: str) -> dict[str, str]:
    """The entry of the secret ``secret_arn`` for one provider family (``wavespeed``, ``volcengine``, ``kling``)."""
    entry = optional_credentials(secret_arn, section)
    if entry is None:
        raise ProviderRejected(f"the provider secret has no credentials for '{section}'")
    return entry


def optional_credentials(secret_arn: str, section: str) -> dict[str, str] | None:
    """The secret's ``section`` entry, or None when it has none (for what is only on when configured: ``c2pa``)."""
    try:
        secret = parameters.get_secret(secret_arn, transform="json", max_age=CACHE_SECONDS)
    except TransformParameterError:
        # The parser's message is dropped with the exception: it may quote part of the secret.
        raise ProviderRejected(
            f"the provider secret is not a JSON document, so it has no credentials for '{section}'"
        ) from None
    except GetParameterError as error:
        raise _unreadable(error, section) from None
    register_document(secret)
    if not isinstance(secret, dict):
        raise ProviderRejected(
            f"the provider secret must be a JSON object with a '{section}' entry; it is {_json_type(secret)}"
        )
    entry = secret.get(section)
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ProviderRejected(
            f"the provider secret's '{section}' entry must be an object of strings; it is {_json_type(entry)}"
        )
    malformed = [name for name, value in entry.items() if not isinstance(value, str)]
    if malformed:
        raise ProviderRejected(f"the provider secret's '{section}' entry has {_fields(malformed)} that are not strings")
    if not any(entry.values()):
        return None
    return entry


def _unreadable(error: GetParameterError, section: str) -> ProviderRejected | ProviderUnavailable:
    """Secrets Manager refused or failed the read; its message names the secret, never its value."""
    underlying = error.__context__
    if isinstance(underlying, BotoCoreError) or (
        isinstance(underlying, ClientError)
        and underlying.response.get("Error", {}).get("Code") in TRANSIENT_SECRET_ERRORS
    ):
        return ProviderUnavailable(f"the provider secret could not be read ({type(underlying).__name__}); retried")
    code = underlying.response.get("Error", {}).get("Code") if isinstance(underlying, ClientError) else None
    return ProviderRejected(
        f"the provider secret could not be read for '{section}' ({code or type(underlying).__name__}); check that "
        "it exists and that this function may read it"
    )


def _json_type(value: object) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "null")


def _fields(names: list[str]) -> str:
    """Known credential field names are named; any other key is only counted (someone may have pasted a key there)."""
    known = sorted(name for name in names if name in CREDENTIAL_FIELDS)
    others = len(names) - len(known)
    described = [f"'{name}'" for name in known] + ([f"{others} other field(s)"] if others else [])
    return "values for " + " and ".join(described)
