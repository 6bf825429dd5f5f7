"""Signed callbacks (contract: Callbacks): WaveSpeed's ``v3,<hex>`` and the Standard Webhooks ``v1,<base64>`` that
Kling uses, each checked the way providers.md documents, and anything else refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from avatar_pipeline.providers.callback_signatures import ForgedCallback, verify_standard, verify_wavespeed

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BODY = b'{"id":"pred-1","status":"completed","outputs":["https://cdn.example/v.mp4"]}'
WAVESPEED_SECRET = "whsec_plain-text-key"
KLING_KEY = b"sixteen byte key!"
KLING_SECRET = "whsec_" + base64.b64encode(KLING_KEY).decode()


def wavespeed_headers(at: datetime = NOW, *, key: str = WAVESPEED_SECRET, body: bytes = BODY) -> dict[str, str]:
    stamp = str(int(at.timestamp()))
    digest = hmac.new(key.removeprefix("whsec_").encode(), f"msg-1.{stamp}.".encode() + body, hashlib.sha256)
    return {"webhook-id": "msg-1", "webhook-timestamp": stamp, "webhook-signature": f"v3,{digest.hexdigest()}"}


def standard_headers(at: datetime = NOW, *, key: bytes = KLING_KEY) -> dict[str, str]:
    stamp = str(int(at.timestamp()))
    digest = hmac.new(key, f"msg-2.{stamp}.".encode() + BODY, hashlib.sha256).digest()
    return {
        "webhook-id": "msg-2",
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
    }


def test_a_wavespeed_callback_signed_with_the_secret_minus_its_prefix_verifies() -> None:
    verify_wavespeed(wavespeed_headers(), BODY, WAVESPEED_SECRET, NOW)
    verify_wavespeed(wavespeed_headers(NOW - timedelta(seconds=299)), BODY, WAVESPEED_SECRET, NOW)


@pytest.mark.parametrize(
    ("headers", "body", "why"),
    [
        (wavespeed_headers(key="whsec_another-key"), BODY, "no webhook-signature matches"),
        (wavespeed_headers(), BODY + b" ", "no webhook-signature matches"),
        (wavespeed_headers(NOW - timedelta(seconds=301)), BODY, "signed 301 s ago"),
        (wavespeed_headers(NOW + timedelta(seconds=400)), BODY, "at most 300 s"),
        ({**wavespeed_headers(), "webhook-timestamp": "soon"}, BODY, "not a number"),
        ({k: v for k, v in wavespeed_headers().items() if k != "webhook-id"}, BODY, "has no webhook-id"),
        (
            {**wavespeed_headers(), "webhook-signature": "v1," + wavespeed_headers()["webhook-signature"][3:]},
            BODY,
            "no webhook-signature",
        ),
    ],
    ids=["wrong key", "body changed", "too old", "from the future", "bad timestamp", "unsigned", "wrong version"],
)
def test_anything_else_is_forged(headers: dict[str, str], body: bytes, why: str) -> None:
    with pytest.raises(ForgedCallback, match=why):
        verify_wavespeed(headers, body, WAVESPEED_SECRET, NOW)


def test_standard_webhooks_take_the_base64_key_and_any_of_the_rotation_s_signatures() -> None:
    verify_standard(standard_headers(), BODY, KLING_SECRET, NOW)
    old = standard_headers(key=b"the key before!!")["webhook-signature"]
    rotating = {**standard_headers(), "webhook-signature": f"{old} {standard_headers()['webhook-signature']}"}
    verify_standard(rotating, BODY, KLING_SECRET, NOW)
    with pytest.raises(ForgedCallback):
        verify_standard(standard_headers(key=b"the key before!!"), BODY, KLING_SECRET, NOW)
    with pytest.raises(ForgedCallback, match="not base64"):
        verify_standard(standard_headers(), BODY, "whsec_***", NOW)
