"""The provider simulator's callbacks over real HTTP, to a receiver on 127.0.0.1: WaveSpeed webhooks (v3
signatures with the secret from ``GET /api/v3/webhook/secret``), Kling callbacks on every status change
(Standard-Webhooks signatures, or none), retries, callback faults, loopback-only URLs and the stats."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from avatar_local.samples import portrait_png, speech_audio
from avatar_local.simulator import ProviderSimulator, SimulatorSettings

from ..callback_receiver import Received, Receiver, receive_callbacks
from ..media_server import Files, serve_files

pytestmark = pytest.mark.integration

WAVESPEED_KEY = "ws-callback-key"
KLING_KEY = "kling-callback-key"
KLING_WEBHOOK_KEY = b"kling webhook signing key, 32 b!"
KLING_SECRET = "whsec_" + base64.b64encode(KLING_WEBHOOK_KEY).decode()
MODEL = "bytedance/avatar-omni-human-1.5"
KLING_PATH = "/v1/videos/avatar/image2video"
RETRY_BASE = 0.1
SETTINGS = {"task_seconds": 0.1, "callback_retry_base_seconds": RETRY_BASE}
FILES: Files = {
    "/portrait.png": (200, "image/png", portrait_png(320)),
    "/voice.wav": (200, "audio/wav", speech_audio(2.5)),
    "/forbidden.png": (403, "application/xml", b"<Error><Code>AccessDenied</Code></Error>"),
}
ENTRY_KEYS = {"provider", "task_id", "status", "webhook_id", "attempt", "sent_at", "answered", "fault"}


@pytest.fixture(scope="module")
def media_url() -> Iterator[str]:
    with serve_files(FILES) as url:
        yield url


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receive_callbacks() as running:
        yield running


def _simulator(kling: dict[str, str]) -> ProviderSimulator:
    credentials = {"wavespeed": {"api_key": WAVESPEED_KEY}, "kling": {"api_key": KLING_KEY, **kling}}
    return ProviderSimulator(credentials, settings=SimulatorSettings(**SETTINGS))


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    with _simulator({"webhook_secret": KLING_SECRET}) as running:
        yield running


@pytest.fixture(scope="module")
def unsigned_simulator() -> Iterator[ProviderSimulator]:
    with _simulator({}) as running:
        yield running


def _client(simulator: ProviderSimulator, key: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=simulator.url, headers=headers, timeout=10, trust_env=False) as http:
        yield http
        http.delete("/_simulator/faults")
        http.post("/_simulator/settings", json=SETTINGS)


@pytest.fixture
def wavespeed(simulator: ProviderSimulator) -> Iterator[httpx.Client]:
    yield from _client(simulator, WAVESPEED_KEY)


@pytest.fixture
def kling(simulator: ProviderSimulator) -> Iterator[httpx.Client]:
    yield from _client(simulator, KLING_KEY)


@pytest.fixture
def unsigned_kling(unsigned_simulator: ProviderSimulator) -> Iterator[httpx.Client]:
    yield from _client(unsigned_simulator, KLING_KEY)


def _path() -> str:
    return f"/hooks/{uuid.uuid4().hex}"


def _fault(client: httpx.Client, provider: str, fault: str, **extra: Any) -> None:
    spec = {"provider": provider, "operation": "callback", "fault": fault, **extra}
    response = client.post("/_simulator/faults", json=spec)
    assert response.status_code == 201, response.text


def _submit_wavespeed(client: httpx.Client, media_url: str, webhook: str, image: str = "portrait.png") -> str:
    body = {"image": f"{media_url}/{image}", "audio": f"{media_url}/voice.wav"}
    response = client.post(f"/api/v3/{MODEL}", params={"webhook": webhook}, json=body)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["data"]["id"]
    return task_id


def _submit_kling(client: httpx.Client, media_url: str, callback_url: str) -> str:
    body = {"image": f"{media_url}/portrait.png", "sound_file": f"{media_url}/voice.wav", "callback_url": callback_url}
    response = client.post(KLING_PATH, json=body)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["data"]["task_id"]
    return task_id


def _secret(client: httpx.Client) -> str:
    response = client.get("/api/v3/webhook/secret")
    assert response.status_code == 200, response.text
    secret: str = response.json()["data"]["secret"]
    return secret


def _wavespeed_signs(post: Received, secret: str, timestamp: str | None = None) -> bool:
    """WaveSpeed's documented check: hex HMAC-SHA256 of ``id.timestamp.body`` keyed by the secret minus whsec_."""
    timestamp = timestamp or post.headers["webhook-timestamp"]
    content = f"{post.headers['webhook-id']}.{timestamp}.".encode() + post.body
    expected = hmac.new(secret.removeprefix("whsec_").encode(), content, hashlib.sha256).hexdigest()
    return post.headers["webhook-signature"] == f"v3,{expected}"


def _standard_signs(post: Received, key: bytes) -> bool:
    """Standard Webhooks: space-separated ``v1,<base64 HMAC-SHA256>`` signatures of ``id.timestamp.body``."""
    content = f"{post.headers['webhook-id']}.{post.headers['webhook-timestamp']}.".encode() + post.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return f"v1,{expected}" in post.headers["webhook-signature"].split()


def _entries(client: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    callbacks: list[dict[str, Any]] = client.get("/_simulator/stats").json()["callbacks"]
    return [entry for entry in callbacks if entry["task_id"] == task_id]


def _wait_entries(client: httpx.Client, task_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        entries = _entries(client, task_id)
        if len(entries) >= count:
            return entries
        time.sleep(0.02)
    raise AssertionError(f"{len(_entries(client, task_id))} of {count} deliveries recorded for {task_id}")


# --- WaveSpeed ------------------------------------------------------------------------------------


def test_wavespeed_secret_is_stable_and_needs_the_api_key(wavespeed: httpx.Client) -> None:
    envelope = wavespeed.get("/api/v3/webhook/secret").json()
    assert (envelope["code"], envelope["message"]) == (200, "success")
    assert envelope["data"]["secret"].startswith("whsec_")
    assert len(envelope["data"]["secret"]) > len("whsec_") + 20
    assert _secret(wavespeed) == envelope["data"]["secret"]
    refused = httpx.get(f"{wavespeed.base_url}/api/v3/webhook/secret", trust_env=False)
    assert refused.status_code == 401


def test_wavespeed_webhook_carries_the_signed_prediction(
    wavespeed: httpx.Client, receiver: Receiver, media_url: str
) -> None:
    path = _path()
    task_id = _submit_wavespeed(wavespeed, media_url, f"{receiver.url}{path}?token=abc")
    [post] = receiver.wait(f"{path}?token=abc", 1)
    assert post.headers["content-type"] == "application/json"
    assert abs(int(post.headers["webhook-timestamp"]) - time.time()) < 5
    assert _wavespeed_signs(post, _secret(wavespeed))
    prediction = json.loads(post.body)
    queried = wavespeed.get(f"/api/v3/predictions/{task_id}/result").json()["data"]
    assert set(prediction) == set(queried)
    assert {key: prediction[key] for key in ("id", "model", "status", "error", "urls")} == {
        "id": task_id,
        "model": MODEL,
        "status": "completed",
        "error": "",
        "urls": queried["urls"],
    }
    [video_url] = prediction["outputs"]
    video = httpx.get(video_url, trust_env=False)
    assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")

    [entry] = _wait_entries(wavespeed, task_id, 1)
    assert set(entry) == ENTRY_KEYS | {"task_finished_at"}
    assert (entry["provider"], entry["status"], entry["attempt"], entry["answered"], entry["fault"]) == (
        "wavespeed",
        "completed",
        1,
        200,
        None,
    )
    assert entry["webhook_id"] == post.headers["webhook-id"]
    assert datetime.fromisoformat(entry["sent_at"]) >= datetime.fromisoformat(entry["task_finished_at"])
    assert "token" not in json.dumps(entry)


def test_wavespeed_failed_task_is_called_back_with_its_error(
    wavespeed: httpx.Client, receiver: Receiver, media_url: str
) -> None:
    path = _path()
    _submit_wavespeed(wavespeed, media_url, receiver.url + path, image="forbidden.png")
    prediction = json.loads(receiver.wait(path, 1)[0].body)
    assert (prediction["status"], prediction["outputs"]) == ("failed", [])
    assert "HTTP 403" in prediction["error"]


def test_retries_back_off_and_stop_after_success(wavespeed: httpx.Client, receiver: Receiver, media_url: str) -> None:
    path = _path()
    receiver.answer(path, 500, 503)
    task_id = _submit_wavespeed(wavespeed, media_url, receiver.url + path)
    posts = receiver.wait(path, 3)
    assert len({post.headers["webhook-id"] for post in posts}) == 1
    assert [post.answered for post in posts] == [500, 503, 200]
    assert posts[1].at - posts[0].at >= RETRY_BASE * 0.9
    assert posts[2].at - posts[1].at >= 2 * RETRY_BASE * 0.9
    time.sleep(4 * RETRY_BASE)
    assert len(receiver.received(path)) == 3
    entries = _entries(wavespeed, task_id)
    assert [(entry["attempt"], entry["answered"]) for entry in entries] == [(1, 500), (2, 503), (3, 200)]


def test_retries_give_up_after_three(wavespeed: httpx.Client, receiver: Receiver, media_url: str) -> None:
    path = _path()
    receiver.answer(path, 500, 500, 500, 500, 500)
    wavespeed.delete("/_simulator/stats")
    task_id = _submit_wavespeed(wavespeed, media_url, receiver.url + path)
    assert len(receiver.wait(path, 4)) == 4
    time.sleep(10 * RETRY_BASE)
    assert len(receiver.received(path)) == 4
    assert [entry["attempt"] for entry in _entries(wavespeed, task_id)] == [1, 2, 3, 4]
    counts = wavespeed.get("/_simulator/stats").json()["callback_counts"]
    assert counts | {"attempts": 4, "failed_attempts": 4, "given_up": 1} == counts


def test_an_unreachable_receiver_is_retried_then_given_up(wavespeed: httpx.Client, media_url: str) -> None:
    with receive_callbacks() as closed:
        url = f"{closed.url}/gone"
    task_id = _submit_wavespeed(wavespeed, media_url, url)
    entries = _wait_entries(wavespeed, task_id, 4)
    assert [(entry["attempt"], entry["answered"]) for entry in entries] == [(n, None) for n in range(1, 5)]


# --- Kling ----------------------------------------------------------------------------------------


def test_kling_posts_every_status_change_in_order_signed(
    kling: httpx.Client, receiver: Receiver, media_url: str
) -> None:
    path = _path()
    task_id = _submit_kling(kling, media_url, receiver.url + path)
    posts = receiver.wait(path, 3)
    bodies = [json.loads(post.body) for post in posts]
    assert [body["task_status"] for body in bodies] == ["submitted", "processing", "succeed"]
    assert all(_standard_signs(post, KLING_WEBHOOK_KEY) for post in posts)
    assert len({post.headers["webhook-id"] for post in posts}) == 3
    assert all(post.headers["content-type"] == "application/json" for post in posts)
    final = bodies[-1]
    queried = kling.get(f"{KLING_PATH}/{task_id}").json()["data"]
    assert set(final) == set(queried) >= {"task_id", "task_status", "task_status_msg", "task_info", "task_result"}
    assert (final["task_id"], final["created_at"], final["updated_at"]) == (
        task_id,
        queried["created_at"],
        queried["updated_at"],
    )
    assert [body["updated_at"] for body in bodies] == sorted(body["updated_at"] for body in bodies)
    [video] = final["task_result"]["videos"]
    assert httpx.get(video["url"], trust_env=False).status_code == 200
    statuses = [entry["status"] for entry in _wait_entries(kling, task_id, 3)]
    assert statuses == ["submitted", "processing", "succeed"]


def test_kling_without_a_webhook_secret_calls_back_unsigned(
    unsigned_kling: httpx.Client, receiver: Receiver, media_url: str
) -> None:
    path = _path()
    _submit_kling(unsigned_kling, media_url, receiver.url + path)
    posts = receiver.wait(path, 3)
    assert [json.loads(post.body)["task_status"] for post in posts] == ["submitted", "processing", "succeed"]
    assert not any(name.startswith("webhook-") for post in posts for name in post.headers)
    refused = unsigned_kling.post(
        "/_simulator/faults", json={"provider": "kling", "operation": "callback", "fault": "bad_signature"}
    )
    assert refused.status_code == 400
    assert "webhook_secret" in refused.json()["error"]


def test_kling_lost_drops_only_the_final_callback(kling: httpx.Client, receiver: Receiver, media_url: str) -> None:
    path = _path()
    _fault(kling, "kling", "lost")
    task_id = _submit_kling(kling, media_url, receiver.url + path)
    entries = _wait_entries(kling, task_id, 3)
    assert [(entry["status"], entry["attempt"], entry["fault"]) for entry in entries] == [
        ("submitted", 1, None),
        ("processing", 1, None),
        ("succeed", 0, "lost"),
    ]
    assert entries[-1]["sent_at"] is None
    assert [json.loads(post.body)["task_status"] for post in receiver.received(path)] == ["submitted", "processing"]


# --- faults ---------------------------------------------------------------------------------------


def test_lost(wavespeed: httpx.Client, receiver: Receiver, media_url: str) -> None:
    path = _path()
    _fault(wavespeed, "wavespeed", "lost")
    task_id = _submit_wavespeed(wavespeed, media_url, receiver.url + path)
    [entry] = _wait_entries(wavespeed, task_id, 1)
    assert (entry["fault"], entry["answered"]) == ("lost", None)
    time.sleep(0.3)
    assert receiver.received(path) == []
    assert wavespeed.get("/_simulator/faults").json()["faults"] == []


def test_duplicated(wavespeed: httpx.Client, receiver: Receiver, media_url: str) -> None:
    path = _path()
    _fault(wavespeed, "wavespeed", "duplicated")
    task_id = _submit_wavespeed(wavespeed, media_url, receiver.url + path)
    first, second = receiver.wait(path, 2)
    assert (first.headers["webhook-id"], first.body) == (second.headers["webhook-id"], second.body)
    secret = _secret(wavespeed)
    assert _wavespeed_signs(first, secret)
    assert _wavespeed_signs(second, secret)
    assert [entry["fault"] for entry in _wait_entries(wavespeed, task_id, 2)] == [None, "duplicated"]


def test_delayed(wavespeed: httpx.Client, receiver: Receiver, media_url: str) -> None:
    path = _path()
    _fault(wavespeed, "wavespeed", "delayed", seconds=0.6)
    task_id = _submit_wavespeed(wavespeed, media_url, receiver.url + path)
    [post] = receiver.wait(path, 1)
    assert _wavespeed_signs(post, _secret(wavespeed))
    [entry] = _wait_entries(wavespeed, task_id, 1)
    assert entry["fault"] == "delayed"
    late = datetime.fromisoformat(entry["sent_at"]) - datetime.fromisoformat(entry["task_finished_at"])
    assert late.total_seconds() >= 0.6


def test_bad_signature(wavespeed: httpx.Client, receiver: Receiver, media_url: str) -> None:
    path = _path()
    _fault(wavespeed, "wavespeed", "bad_signature")
    receiver.answer(path, 401, 401, 401, 401)
    _submit_wavespeed(wavespeed, media_url, receiver.url + path)
    posts = receiver.wait(path, 4)
    assert all(post.headers["webhook-signature"].startswith("v3,") for post in posts)
    assert not any(_wavespeed_signs(post, _secret(wavespeed)) for post in posts)


def test_kling_bad_signature(kling: httpx.Client, receiver: Receiver, media_url: str) -> None:
    path = _path()
    _fault(kling, "kling", "bad_signature")
    _submit_kling(kling, media_url, receiver.url + path)
    posts = receiver.wait(path, 3)
    assert [_standard_signs(post, KLING_WEBHOOK_KEY) for post in posts] == [True, True, False]
    assert posts[-1].headers["webhook-signature"].startswith("v1,")


def test_replayed(wavespeed: httpx.Client, receiver: Receiver, media_url: str) -> None:
    path = _path()
    _fault(wavespeed, "wavespeed", "replayed")
    task_id = _submit_wavespeed(wavespeed, media_url, receiver.url + path)
    original, replay = receiver.wait(path, 2)
    assert (original.headers["webhook-id"], original.body) == (replay.headers["webhook-id"], replay.body)
    secret = _secret(wavespeed)
    assert _wavespeed_signs(original, secret)
    assert _wavespeed_signs(replay, secret)
    assert abs(int(original.headers["webhook-timestamp"]) - time.time()) < 5
    assert time.time() - int(replay.headers["webhook-timestamp"]) >= 590
    assert [entry["fault"] for entry in _wait_entries(wavespeed, task_id, 2)] == [None, "replayed"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"provider": "volcengine", "fault": "lost"}, "volcengine sends no callbacks"),
        ({"provider": "wavespeed", "fault": "throttle"}, "fault for callback must be one of"),
        ({"provider": "wavespeed", "fault": "lost", "seconds": 1}, "seconds applies to slow and delayed"),
        ({"provider": "kling", "fault": "reset"}, "fault for callback must be one of"),
    ],
)
def test_callback_fault_specs_are_checked(wavespeed: httpx.Client, spec: dict[str, Any], message: str) -> None:
    response = wavespeed.post("/_simulator/faults", json={"operation": "callback", **spec})
    assert response.status_code == 400
    assert message in response.json()["error"]


# --- loopback only, settings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "http://10.0.0.1:8080/hook",
        "http://127.0.0.1@example.com/hook",
        "ftp://127.0.0.1/hook",
        "http://localhost.example.com/hook",
    ],
)
def test_callback_urls_off_this_machine_are_refused(
    wavespeed: httpx.Client, kling: httpx.Client, media_url: str, url: str
) -> None:
    wavespeed.delete("/_simulator/stats")
    body = {"image": f"{media_url}/portrait.png", "audio": f"{media_url}/voice.wav"}
    refused = wavespeed.post(f"/api/v3/{MODEL}", params={"webhook": url}, json=body)
    assert refused.status_code == 400
    assert refused.json() == {"code": 400, "message": refused.json()["message"], "data": None}
    assert refused.json()["message"].startswith("webhook must be")
    kling_body = {"image": body["image"], "sound_file": body["audio"], "callback_url": url}
    refused = kling.post(KLING_PATH, json=kling_body)
    assert (refused.status_code, refused.json()["code"]) == (400, 1201)
    assert "callback_url must be an http(s) URL on this machine" in refused.json()["message"]
    assert wavespeed.get("/_simulator/stats").json()["submissions"] == []


def test_localhost_and_ipv6_loopback_are_accepted(wavespeed: httpx.Client, media_url: str, receiver: Receiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    path = _path()
    _submit_wavespeed(wavespeed, media_url, f"http://localhost:{port}{path}")
    assert receiver.wait(path, 1)
    body = {"image": f"{media_url}/portrait.png", "audio": f"{media_url}/voice.wav"}
    accepted = wavespeed.post(f"/api/v3/{MODEL}", params={"webhook": f"http://[::1]:{port}/x"}, json=body)
    assert accepted.status_code == 200


def test_callback_settings(wavespeed: httpx.Client) -> None:
    settings = wavespeed.get("/_simulator/settings").json()
    assert (settings["callback_retry_base_seconds"], settings["callback_timeout_seconds"]) == (RETRY_BASE, 10.0)
    changed = wavespeed.post("/_simulator/settings", json={"callback_timeout_seconds": 2})
    assert changed.json()["callback_timeout_seconds"] == 2
    refused = wavespeed.post("/_simulator/settings", json={"callback_retry_base_seconds": -1, "task_seconds": 9})
    assert refused.status_code == 400
    assert wavespeed.get("/_simulator/settings").json()["task_seconds"] == SETTINGS["task_seconds"]
