"""How each provider signs its callbacks: the ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers.

- WaveSpeed: ``v3,<hex HMAC-SHA256>`` over ``{id}.{timestamp}.{raw body}``, keyed by the account's webhook secret
  without its ``whsec_`` prefix, as utf-8 bytes (not base64-decoded).
- Kling (Standard Webhooks): ``v1,<base64 HMAC-SHA256>`` over the same content, keyed by the base64-decoded
  ``webhook_secret`` minus ``whsec_``; without a secret, a callback carries none of these headers.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Protocol, Self

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


class WebhookSigner(Protocol):
    def headers(self, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """The headers that identify and sign one delivery of ``body``."""
        ...

    def forged(self) -> Self:
        """A signer of the same scheme with a key nobody knows (the ``bad_signature`` fault)."""
        ...

    @property
    def signs(self) -> bool:
        """Whether deliveries are signed at all."""
        ...


def new_webhook_secret() -> str:
    """A WaveSpeed-style account webhook secret, ``whsec_...``."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class WaveSpeedSigner:
    secret: str
    """``whsec_...``, as ``GET /api/v3/webhook/secret`` returns it."""

    signs = True

    def headers(self, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        key = self.secret.removeprefix(SECRET_PREFIX).encode()
        return _signed(webhook_id, timestamp, f"v3,{_mac(key, webhook_id, timestamp, body).hex()}")

    def forged(self) -> Self:
        return type(self)(new_webhook_secret())


@dataclass(frozen=True)
class StandardSigner:
    key: bytes | None
    """The decoded signing key; None sends callbacks unsigned."""

    @classmethod
    def from_secret(cls, secret: object) -> Self:
        """From ``whsec_<base64>`` (raises ValueError if it is not); anything else but a string means unsigned."""
        if not isinstance(secret, str) or not secret:
            return cls(None)
        return cls(base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True))

    @property
    def signs(self) -> bool:
        return self.key is not None

    def headers(self, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        if self.key is None:
            return {}
        signature = base64.b64encode(_mac(self.key, webhook_id, timestamp, body)).decode()
        return _signed(webhook_id, timestamp, f"v1,{signature}")

    def forged(self) -> Self:
        return type(self)(secrets.token_bytes(32))


def _mac(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def _signed(webhook_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
