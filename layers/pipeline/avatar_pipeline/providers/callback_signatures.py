"""Checking a signed callback: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` over
``{id}.{timestamp}.{raw body}`` with HMAC-SHA256 (providers.md: WaveSpeed signs ``v3,<hex>`` keyed by its secret
without ``whsec_``; Kling signs the Standard Webhooks way, ``v1,<base64>`` keyed by the base64-decoded secret, with
several space-separated signatures during a key rotation). A message older or newer than ``TOLERANCE_SECONDS`` is
refused, so a captured callback cannot be replayed later."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime

TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
Digest = Callable[[bytes], str]


class ForgedCallback(Exception):
    """The callback's origin cannot be verified: it changes nothing."""


def verify_wavespeed(headers: Mapping[str, str], body: bytes, secret: str, now: datetime) -> None:
    key = secret.removeprefix(SECRET_PREFIX).encode()
    _verify(headers, body, now, version="v3", digest=lambda message: hmac.new(key, message, hashlib.sha256).hexdigest())


def verify_standard(headers: Mapping[str, str], body: bytes, secret: str, now: datetime) -> None:
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ForgedCallback("the configured webhook secret is not base64 after its whsec_ prefix") from None

    def digest(message: bytes) -> str:
        return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()

    _verify(headers, body, now, version="v1", digest=digest)


def _verify(headers: Mapping[str, str], body: bytes, now: datetime, *, version: str, digest: Digest) -> None:
    message_id, stamp, signatures = (
        headers.get(name, "") for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not (message_id and stamp and signatures):
        raise ForgedCallback("the callback has no webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent = int(stamp)
    except ValueError:
        raise ForgedCallback("the callback's webhook-timestamp is not a number") from None
    if abs(now.timestamp() - sent) > TOLERANCE_SECONDS:
        age = int(now.timestamp()) - sent
        raise ForgedCallback(f"the callback was signed {age} s ago (at most {TOLERANCE_SECONDS} s either way)")
    expected = digest(f"{message_id}.{stamp}.".encode() + body)
    for candidate in signatures.split():
        given_version, _, signature = candidate.partition(",")
        if given_version == version and hmac.compare_digest(signature.encode(), expected.encode()):
            return
    raise ForgedCallback("no webhook-signature matches the body")
