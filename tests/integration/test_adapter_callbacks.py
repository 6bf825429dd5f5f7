"""The WaveSpeed and Kling adapters read the simulator's real callbacks (contract: Callbacks): the callback address
goes out with the submit, and what comes back is believed only once verified: WaveSpeed's signature with the secret
the adapter reads from ``GET /api/v3/webhook/secret``, Kling's task re-read from its API and matched to this
attempt's external id (and its Standard-Webhooks signature when a secret is configured)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from avatar_local.samples import portrait_png, speech_audio
from avatar_local.simulator import ProviderSimulator, SimulatorSettings
from avatar_pipeline.capabilities import KLING_AVATAR, WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.models import Job
from avatar_pipeline.providers import kling, wavespeed
from avatar_pipeline.providers.base import CallbackDelivery, PresignedInputs
from avatar_pipeline.providers.callback_signatures import ForgedCallback

from ..callback_receiver import Receiver, receive_callbacks
from ..media_server import Files, serve_files

pytestmark = pytest.mark.integration

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:providers"
CREDENTIALS = {
    "wavespeed": {"api_key": "ws-adapter-key"},
    "kling": {"api_key": "kling-adapter-key", "webhook_secret": "whsec_" + base64.b64encode(b"k" * 32).decode()},
}
FILES: Files = {
    "/portrait.png": (200, "image/png", portrait_png(320)),
    "/voice.wav": (200, "audio/wav", speech_audio(2.5)),
}


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    settings = SimulatorSettings(task_seconds=0.2, callback_retry_base_seconds=0.1)
    with ProviderSimulator(CREDENTIALS, settings=settings) as running:
        yield running


@pytest.fixture(scope="module")
def inputs() -> Iterator[PresignedInputs]:
    with serve_files(FILES) as url:
        yield PresignedInputs(f"{url}/portrait.png", f"{url}/voice.wav", lambda uri: uri)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    for module in (wavespeed, kling):
        monkeypatch.setattr(module, "provider_credentials", lambda _arn, section: dict(CREDENTIALS[section]))
    with receive_callbacks() as running:
        yield running


def _job(provider: str) -> Job:
    return Job.model_validate(
        {
            "job_id": "cb-adapter",
            "provider": provider,
            "image": {"s3": {"bucket": "in", "key": "portrait.png"}},
            "audio": {"s3": {"bucket": "in", "key": "voice.wav"}},
            "request": {"image": "portrait.png", "audio": "voice.wav"},
            "trigger": "console",
            "requested_at": datetime.now(UTC),
            "attempt": 1,
        }
    )


def _delivery(post: Any, external_id: str = "", body: bytes | None = None) -> CallbackDelivery:
    return CallbackDelivery(post.headers, post.body if body is None else body, external_id)


def test_wavespeed_signs_what_it_sends_and_nothing_else_passes(
    simulator: ProviderSimulator, inputs: PresignedInputs, receiver: Receiver
) -> None:
    with httpx.Client(trust_env=False) as http:
        adapter = wavespeed.WaveSpeedAdapter(WAVESPEED_OMNIHUMAN_15, simulator.url, http, SECRET_ARN)
        task = adapter.submit(_job("wavespeed/omnihuman-1.5"), inputs, callback_url=f"{receiver.url}/ws")
        (post,) = receiver.wait("/ws", 1)
        now = datetime.now(UTC)

        report = adapter.read_callback(_delivery(post), now=now)

        assert (report.task_id, report.status) == (task.task_id, "succeeded")
        with pytest.raises(ForgedCallback):
            adapter.read_callback(_delivery(post, body=post.body.replace(b"completed", b"failed")), now=now)
        with pytest.raises(ForgedCallback, match="ago"):
            adapter.read_callback(_delivery(post), now=datetime.fromtimestamp(now.timestamp() + 600, UTC))


def test_kling_is_re_read_and_must_be_this_attempt_s_task(
    simulator: ProviderSimulator, inputs: PresignedInputs, receiver: Receiver
) -> None:
    with httpx.Client(trust_env=False) as http:
        adapter = kling.KlingAdapter(KLING_AVATAR, simulator.url, http, SECRET_ARN, tokens=kling.JwtCache())
        job = _job("kling/avatar")
        task = adapter.submit(job, inputs, external_id="avp-ours", callback_url=f"{receiver.url}/kl")
        posts = receiver.wait("/kl", 3)
        now = datetime.now(UTC)

        reports = [adapter.read_callback(_delivery(post, "avp-ours"), now=now) for post in posts]

        assert [(r.task_id, r.status) for r in reports] == [(task.task_id, "succeeded")] * 3, (
            "every callback is answered with the task as Kling reports it now"
        )
        with pytest.raises(ForgedCallback, match="not this attempt's"):
            adapter.read_callback(_delivery(posts[-1], "avp-another-attempt"), now=now)
        with pytest.raises(ForgedCallback, match="no webhook-signature"):
            adapter.read_callback(_delivery(posts[-1], "avp-ours", body=posts[-1].body + b" "), now=now)
