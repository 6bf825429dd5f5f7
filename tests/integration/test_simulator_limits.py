"""Provider account limits in the simulator: concurrency limits and throttling answered with each provider's own
code, stats for a scale benchmark, per-provider generation time, one render per distinct input, and the
``local up --simulator-setting`` option."""

import base64
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from avatar_local import cli, stack
from avatar_local.samples import portrait_png, speech_audio
from avatar_local.simulator import ProviderSimulator, SimulatorSettings, render_cache
from avatar_pipeline.providers.volcengine_signing import sign_request

from ..media_server import Files, serve_files

pytestmark = pytest.mark.integration

PROVIDERS = ("wavespeed", "volcengine", "kling")
WAVESPEED_KEY, KLING_KEY = "ws-limits-key", "kling-limits-key"
VOLC_AK, VOLC_SK = "AKLTlimitsaccesskey0001", "bGltaXRzLXNlY3JldA=="
TASK_SECONDS = 0.2
FILES: Files = {
    "/portrait.png": (200, "image/png", portrait_png(400)),
    "/voice.wav": (200, "audio/wav", speech_audio(2.5)),
}
INLINE_IMAGE = base64.b64encode(FILES["/portrait.png"][2]).decode()
INLINE_AUDIO = base64.b64encode(FILES["/voice.wav"][2]).decode()
# The answer each provider gives a create over its account's limit (HTTP status, then fields of the envelope).
THROTTLED: dict[str, tuple[int, dict[str, Any]]] = {
    "wavespeed": (429, {"code": 429, "message": "Too Many Requests: concurrency limit reached", "data": None}),
    "volcengine": (
        429,
        {"code": 50430, "status": 50430, "message": "Request Has Reached API Concurrent Limit, Please Try Later"},
    ),
    "kling": (429, {"code": 1303, "message": "Concurrency or QPS exceeds the resource pack limit"}),
}
DEFAULTS = {
    "task_seconds": TASK_SECONDS,
    "submit_throttle_seed": 0,
    **{name: dict.fromkeys(PROVIDERS) for name in ("concurrency", "task_seconds_by_provider", "submit_throttle_ratio")},
}


@pytest.fixture(scope="module")
def media_url() -> Iterator[str]:
    with serve_files(FILES) as url:
        yield url


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    credentials = {
        "wavespeed": {"api_key": WAVESPEED_KEY},
        "kling": {"api_key": KLING_KEY},
        "volcengine": {"access_key_id": VOLC_AK, "secret_access_key": VOLC_SK},
    }
    settings = SimulatorSettings(task_seconds=TASK_SECONDS, download_timeout_seconds=5.0)
    with ProviderSimulator(credentials, settings=settings) as running:
        yield running


@pytest.fixture(scope="module")
def http(simulator: ProviderSimulator) -> Iterator[httpx.Client]:
    """For the provider APIs (connections are reused: a client per request would dominate the timings)."""
    with httpx.Client(base_url=simulator.url, timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture
def admin(simulator: ProviderSimulator) -> Iterator[httpx.Client]:
    """The admin API, on an idle simulator with default limits and zeroed stats."""
    with httpx.Client(base_url=simulator.url, timeout=10, trust_env=False) as http:
        deadline = time.monotonic() + 20
        while any(account["in_flight"] for account in _stats(http)["providers"].values()):
            assert time.monotonic() < deadline, "tasks of an earlier test are still running"
            time.sleep(0.05)
        _settings(http, DEFAULTS)
        http.delete("/_simulator/stats")
        yield http
        http.delete("/_simulator/faults")
        _settings(http, DEFAULTS)


def _settings(admin: httpx.Client, changes: dict[str, Any]) -> dict[str, Any]:
    response = admin.post("/_simulator/settings", json=changes)
    assert response.status_code == 200, response.text
    settings: dict[str, Any] = response.json()
    return settings


def _stats(admin: httpx.Client) -> dict[str, Any]:
    stats: dict[str, Any] = admin.get("/_simulator/stats").json()
    return stats


def _create(
    http: httpx.Client,
    provider: str,
    media_url: str,
    *,
    image: str = "portrait.png",
    audio: str = "voice.wav",
    subject: bool = False,
) -> httpx.Response:
    """One create in the provider's own protocol; inputs are files of ``media_url``, or inline base64 (WaveSpeed);
    ``subject``: a Volcengine subject recognition task instead of a video."""
    if media_url:
        image, audio = f"{media_url}/{image}", f"{media_url}/{audio}"
    if provider == "wavespeed":
        headers = {"Authorization": f"Bearer {WAVESPEED_KEY}"}
        return http.post(
            "/api/v3/bytedance/avatar-omni-human-1.5", json={"image": image, "audio": audio}, headers=headers
        )
    if provider == "kling":
        headers = {"Authorization": f"Bearer {KLING_KEY}"}
        return http.post("/v1/videos/avatar/image2video", json={"image": image, "sound_file": audio}, headers=headers)
    body = {"req_key": "jimeng_realman_avatar_picture_omni_v15", "image_url": image, "audio_url": audio}
    if subject:
        body = {"req_key": "jimeng_realman_avatar_picture_create_role_omni_v15", "image_url": image}
    url = f"{http.base_url}?Action=CVSubmitTask&Version=2022-08-31"
    content = json.dumps(body).encode()
    headers = sign_request(
        "POST", url, {"Content-Type": "application/json"}, content, VOLC_AK, VOLC_SK, now=datetime.now(UTC)
    )
    return http.post(url, content=content, headers=headers)


def _task_id(provider: str, response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return str(data["id"] if provider == "wavespeed" else data["task_id"])


def _assert_throttled(provider: str, response: httpx.Response) -> None:
    status, fields = THROTTLED[provider]
    assert response.status_code == status, response.text
    envelope = response.json()
    assert {name: envelope.get(name) for name in fields} == fields
    if provider != "kling":
        assert envelope["data"] is None


def _finished(admin: httpx.Client, task_id: str) -> dict[str, Any]:
    """The task's submission entry once the task has ended."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        [entry] = [entry for entry in _stats(admin)["submissions"] if entry["task_id"] == task_id]
        if entry["finished_at"] is not None:
            return entry
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} did not finish")


def _seconds(entry: dict[str, Any]) -> float:
    return (datetime.fromisoformat(entry["finished_at"]) - datetime.fromisoformat(entry["received_at"])).total_seconds()


# --- the concurrency limit ------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_concurrent_creates_never_exceed_the_limit(
    http: httpx.Client, admin: httpx.Client, media_url: str, provider: str
) -> None:
    _settings(admin, {"concurrency": {provider: 3}, "task_seconds_by_provider": {provider: 2.5}})
    start = threading.Barrier(12)

    def create(_: int) -> httpx.Response:
        start.wait()
        return _create(http, provider, media_url)

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(create, range(12)))
    accepted = [response for response in responses if response.status_code == 200]
    assert len(accepted) == 3, [response.text for response in responses]
    for response in responses:
        if response.status_code != 200:
            _assert_throttled(provider, response)
    stats = _stats(admin)
    assert sorted(entry["task_id"] for entry in stats["submissions"]) == sorted(
        _task_id(provider, response) for response in accepted
    ), "a refused create leaves no task"
    assert {entry["status"] for entry in stats["submissions"]} <= {"queued", "running"}
    assert stats["providers"][provider] == {
        "limit": 3,
        "in_flight": 3,
        "peak_in_flight": 3,
        "busy_seconds": 0.0,
        "refused_limit": 9,
        "refused_ratio": 0,
    }
    others = [account for name, account in stats["providers"].items() if name != provider]
    assert [account["in_flight"] for account in others] == [0, 0]


def test_subject_recognition_counts_on_the_volcengine_account(
    http: httpx.Client, admin: httpx.Client, media_url: str
) -> None:
    _settings(admin, {"concurrency": {"volcengine": 2}, "task_seconds_by_provider": {"volcengine": 1}})
    video = _create(http, "volcengine", media_url)
    subject = _create(http, "volcengine", media_url, subject=True)
    assert (video.status_code, subject.status_code) == (200, 200)
    _assert_throttled("volcengine", _create(http, "volcengine", media_url, subject=True))
    _assert_throttled("volcengine", _create(http, "volcengine", media_url))
    entry = _finished(admin, _task_id("volcengine", subject))
    assert entry["status"] == "succeeded"
    assert _create(http, "volcengine", media_url, subject=True).status_code == 200


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_slot_frees_when_its_task_ends(
    http: httpx.Client, admin: httpx.Client, media_url: str, provider: str, outcome: str
) -> None:
    _settings(admin, {"concurrency": {provider: 1}, "task_seconds": 0.8})
    image = "portrait.png" if outcome == "succeeded" else "missing.png"
    first = _create(http, provider, media_url, image=image)
    _assert_throttled(provider, _create(http, provider, media_url))
    entry = _finished(admin, _task_id(provider, first))
    assert entry["status"] == outcome
    second = _create(http, provider, media_url)
    assert second.status_code == 200, "the slot is free as soon as the task shows as ended"
    assert _stats(admin)["providers"][provider]["refused_limit"] == 1


def test_peaks_and_busy_seconds(http: httpx.Client, admin: httpx.Client, media_url: str) -> None:
    _settings(admin, {"task_seconds": 0.5})
    ids = [_task_id("wavespeed", _create(http, "wavespeed", media_url)) for _ in range(3)]
    assert _stats(admin)["providers"]["wavespeed"]["in_flight"] == 3
    entries = [_finished(admin, task_id) for task_id in ids]
    account = _stats(admin)["providers"]["wavespeed"]
    assert (account["limit"], account["in_flight"], account["peak_in_flight"]) == (0, 0, 3)
    assert account["busy_seconds"] >= 1.5
    assert account["busy_seconds"] == pytest.approx(sum(map(_seconds, entries)), abs=0.05)

    _task_id("wavespeed", _create(http, "wavespeed", media_url))
    assert admin.delete("/_simulator/stats").status_code == 204
    account = _stats(admin)["providers"]["wavespeed"]
    assert (account["in_flight"], account["peak_in_flight"], account["busy_seconds"]) == (1, 1, 0.0)


# --- throttling despite free slots ----------------------------------------------------------------


def _throttled_creates(http: httpx.Client, count: int) -> list[int]:
    """The indexes of the creates refused; inline inputs spare the simulator a download per task."""
    refused = []
    for index in range(count):
        response = _create(http, "wavespeed", "", image=INLINE_IMAGE, audio=INLINE_AUDIO)
        if response.status_code != 200:
            _assert_throttled("wavespeed", response)
            refused.append(index)
    return refused


def test_the_throttle_ratio_is_honoured_and_reproducible(http: httpx.Client, admin: httpx.Client) -> None:
    _settings(admin, {"task_seconds": 0.05, "submit_throttle_ratio": {"wavespeed": 0.3}, "submit_throttle_seed": 7})
    first = _throttled_creates(http, 100)
    assert 15 <= len(first) <= 45, first
    stats = _stats(admin)
    assert stats["providers"]["wavespeed"]["refused_ratio"] == len(first)
    assert stats["providers"]["wavespeed"]["refused_limit"] == 0
    assert len(stats["submissions"]) == 100 - len(first)

    admin.delete("/_simulator/stats")
    assert _throttled_creates(http, 100) == first, "the same seed refuses the same creates"
    _settings(admin, {"submit_throttle_seed": 8})
    assert _throttled_creates(http, 100) != first


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_throttled_create_is_refused_before_anything_happens(
    http: httpx.Client, admin: httpx.Client, media_url: str, provider: str
) -> None:
    _settings(admin, {"submit_throttle_ratio": {provider: 1}})
    fault = {"provider": provider, "operation": "submit", "fault": "task_failed"}
    assert admin.post("/_simulator/faults", json=fault).status_code == 201
    for _ in range(3):
        _assert_throttled(provider, _create(http, provider, media_url))
    stats = _stats(admin)
    assert stats["submissions"] == []
    assert (stats["providers"][provider]["refused_ratio"], stats["providers"][provider]["in_flight"]) == (3, 0)
    assert len(admin.get("/_simulator/faults").json()["faults"]) == 1, "the queued fault is still there"


# --- generation time, rendering -------------------------------------------------------------------


def test_a_provider_can_have_its_own_generation_time(http: httpx.Client, admin: httpx.Client, media_url: str) -> None:
    _settings(admin, {"task_seconds_by_provider": {"kling": 1.5}})
    kling = _task_id("kling", _create(http, "kling", media_url))
    wavespeed = _task_id("wavespeed", _create(http, "wavespeed", media_url))
    assert _seconds(_finished(admin, wavespeed)) < 1.0
    assert _seconds(_finished(admin, kling)) >= 1.5


def test_identical_inputs_render_once(http: httpx.Client, admin: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    renders: list[bytes] = []
    real_render = render_cache.render_talking_video

    def counting_render(image: bytes, audio: bytes) -> bytes:
        renders.append(audio)
        return real_render(image, audio)

    monkeypatch.setattr(render_cache, "render_talking_video", counting_render)
    _settings(admin, {"task_seconds": 0.5})
    files = {"/face.png": (200, "image/png", portrait_png(300, seed=5))}
    files |= {f"/voice-{n}.wav": (200, "audio/wav", speech_audio(2.0, seed=n)) for n in range(2)}
    with serve_files(files) as url, ThreadPoolExecutor(6) as pool:
        same = list(
            pool.map(
                lambda _: _create(http, "wavespeed", url, image="face.png", audio="voice-0.wav"),
                range(6),
            )
        )
        entries = [_finished(admin, _task_id("wavespeed", response)) for response in same]
        other = _create(http, "wavespeed", url, image="face.png", audio="voice-1.wav")
        _finished(admin, _task_id("wavespeed", other))
    assert len(renders) == 2, "one render per distinct input"
    assert _stats(admin)["renders"] == {"rendered": 2, "reused": 5}
    assert {entry["status"] for entry in entries} == {"succeeded"}
    assert min(map(_seconds, entries)) >= 0.5, "a reused render still takes the generation time"


def test_the_render_cache_keeps_the_most_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[bytes] = []

    def fake_render(image: bytes, audio: bytes) -> bytes:
        rendered.append(image)
        return image + audio

    monkeypatch.setattr(render_cache, "render_talking_video", fake_render)
    cache = render_cache.RenderCache(entries=2)
    for image in (b"a", b"b", b"a", b"c", b"a", b"b"):
        assert cache.render(image, b"-voice") == image + b"-voice"
    assert rendered == [b"a", b"b", b"c", b"b"], "c pushed out b, the least recently used"
    assert cache.snapshot() == {"rendered": 4, "reused": 2}


# --- settings -------------------------------------------------------------------------------------


def test_per_provider_settings_merge_and_show(admin: httpx.Client) -> None:
    _settings(admin, {"concurrency": {"wavespeed": 5}, "task_seconds_by_provider": {"kling": 30}})
    shown = _settings(admin, {"concurrency": {"kling": 2}, "submit_throttle_ratio": {"volcengine": 0.25}})
    assert shown == admin.get("/_simulator/settings").json()
    assert shown["concurrency"] == {"wavespeed": 5, "volcengine": 0, "kling": 2}
    assert shown["task_seconds_by_provider"] == {"wavespeed": None, "volcengine": None, "kling": 30.0}
    assert shown["submit_throttle_ratio"] == {"wavespeed": 0.0, "volcengine": 0.25, "kling": 0.0}
    assert _stats(admin)["providers"]["kling"]["limit"] == 2
    assert _settings(admin, {"concurrency": {"wavespeed": None}})["concurrency"]["wavespeed"] == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"concurrency": 5},
        {"concurrency": {"acme": 1}},
        {"concurrency": {"kling": -1}},
        {"concurrency": {"kling": 1.5}},
        {"concurrency": {"kling": True}},
        {"submit_throttle_ratio": {"kling": 1.2}},
        {"task_seconds_by_provider": {"kling": "slow"}},
        {"submit_throttle_seed": 1.5},
    ],
)
def test_invalid_per_provider_settings_change_nothing(admin: httpx.Client, changes: dict[str, Any]) -> None:
    before = admin.get("/_simulator/settings").json()
    response = admin.post("/_simulator/settings", json={"task_seconds": 9, **changes})
    assert response.status_code == 400
    assert response.json()["error"]
    assert admin.get("/_simulator/settings").json() == before


# --- avatar-pipeline local up --simulator-setting --------------------------------------------------


class _FakeStack:
    built: list[dict[str, Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.built.append(kwargs)

    def start(self) -> None:
        raise _Started

    def stop(self) -> None:
        pass


class _Started(Exception):
    pass


@pytest.fixture
def fake_stack(monkeypatch: pytest.MonkeyPatch) -> type[_FakeStack]:
    monkeypatch.setattr(stack, "LocalStack", _FakeStack)  # local up imports it when it runs
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    _FakeStack.built = []
    return _FakeStack


def test_local_up_takes_simulator_settings(fake_stack: type[_FakeStack]) -> None:
    argv = (
        "local up --port 0 --simulator-setting concurrency.wavespeed=5 task_seconds=12 --simulator-setting "
        "submit_throttle_ratio.kling=0.25 task_seconds_by_provider.kling=30 --simulator-setting submit_throttle_seed=7"
    )
    with pytest.raises(_Started):
        cli.main(argv.split())
    [built] = fake_stack.built
    assert built["simulator_settings"] == SimulatorSettings(
        task_seconds=12,
        submit_throttle_seed=7,
        concurrency={"wavespeed": 5},
        task_seconds_by_provider={"kling": 30},
        submit_throttle_ratio={"kling": 0.25},
    )


@pytest.mark.parametrize(
    "setting",
    [
        "concurrency.wavespeed=many",
        "concurrency.acme=1",
        "concurrency=5",
        "speed=2",
        "task_seconds",
        "submit_throttle_ratio.kling=2",
    ],
)
def test_local_up_refuses_a_bad_simulator_setting(
    fake_stack: type[_FakeStack], capsys: pytest.CaptureFixture[str], setting: str
) -> None:
    assert cli.main(["local", "up", "--simulator-setting", "task_seconds=1", setting]) == 2
    err = capsys.readouterr().err
    assert err.startswith("avatar-pipeline: --simulator-setting: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert fake_stack.built == [], "nothing is started"
