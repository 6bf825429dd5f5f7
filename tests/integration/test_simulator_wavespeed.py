"""The provider simulator's WaveSpeed v3 API over real HTTP, with inputs from a local file server."""

import base64
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import av
import httpx
import pytest
from avatar_local.mp4info import inspect_mp4
from avatar_local.samples import portrait_jpeg, portrait_png, speech_audio
from avatar_local.simulator import ProviderSimulator, SimulatorSettings
from avatar_pipeline.capabilities import WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.errors import ProviderRejected
from avatar_pipeline.models import Job
from avatar_pipeline.providers import wavespeed
from avatar_pipeline.providers.base import PresignedInputs

from ..media_server import Files, serve_files

pytestmark = pytest.mark.integration

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:provider"
API_KEY = "ws-test-key"
MODEL = "bytedance/avatar-omni-human-1.5"
AUDIO_SECONDS = 2.0
FILES: Files = {
    "/portrait.png": (200, "image/png", portrait_png(256)),
    "/portrait.jpg": (200, "image/jpeg", portrait_jpeg(256, seed=1)),
    "/voice.wav": (200, "audio/wav", speech_audio(AUDIO_SECONDS)),
    "/voice.mp3": (200, "audio/mpeg", speech_audio(AUDIO_SECONDS, fmt="mp3")),
    "/forbidden.wav": (403, "application/xml", b"<Error><Code>AccessDenied</Code></Error>"),
    "/garbage.png": (200, "image/png", b"this is not an image"),
}


@pytest.fixture(scope="module")
def media_url() -> Iterator[str]:
    with serve_files(FILES) as url:
        yield url


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    settings = SimulatorSettings(task_seconds=0.2, download_timeout_seconds=5.0)
    with ProviderSimulator({"wavespeed": {"api_key": API_KEY}}, settings=settings) as running:
        yield running


@pytest.fixture
def client(simulator: ProviderSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=simulator.url, headers=headers, timeout=10, trust_env=False) as http:
        yield http
        http.delete("/_simulator/faults")
        http.delete("/_simulator/stats")
        http.post("/_simulator/settings", json={"task_seconds": 0.2, "result_url_ttl_seconds": 3600})


def _body(media_url: str, **overrides: Any) -> dict[str, Any]:
    return {"image": f"{media_url}/portrait.png", "audio": f"{media_url}/voice.wav", **overrides}


def _submit(client: httpx.Client, body: dict[str, Any], model: str = MODEL) -> dict[str, Any]:
    response = client.post(f"/api/v3/{model}", json=body)
    assert response.status_code == 200, response.text
    prediction: dict[str, Any] = response.json()["data"]
    return prediction


def _wait(client: httpx.Client, task_id: str, seen: list[str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        prediction: dict[str, Any] = client.get(f"/api/v3/predictions/{task_id}/result").json()["data"]
        if seen is not None and prediction["status"] not in seen:
            seen.append(prediction["status"])
        if prediction["status"] in ("completed", "failed"):
            return prediction
        time.sleep(0.03)
    raise AssertionError(f"task {task_id} did not finish")


def _add_fault(client: httpx.Client, operation: str, fault: str, **extra: Any) -> None:
    spec = {"provider": "wavespeed", "operation": operation, "fault": fault, **extra}
    response = client.post("/_simulator/faults", json=spec)
    assert response.status_code == 201, response.text


def _completed(client: httpx.Client, media_url: str) -> dict[str, Any]:
    prediction = _wait(client, _submit(client, _body(media_url))["id"])
    assert prediction["status"] == "completed", prediction
    return prediction


def _read_into(received: bytearray, response: httpx.Response) -> None:
    for chunk in response.iter_bytes():
        received += chunk


def _mouth_darkness(video: bytes) -> list[float]:
    with av.open(io.BytesIO(video), "r") as container:
        frames = [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]
    height, width = frames[0].shape
    top, left = int(height * 0.62), int(width * 0.42)
    return [255 - float(frame[top : int(height * 0.74), left : int(width * 0.58)].mean()) for frame in frames]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}],
    ids=["missing", "wrong-key", "no-bearer"],
)
def test_rejects_bad_credentials(simulator: ProviderSimulator, media_url: str, headers: dict[str, str]) -> None:
    submit = httpx.post(f"{simulator.url}/api/v3/{MODEL}", json=_body(media_url), headers=headers, trust_env=False)
    query = httpx.get(f"{simulator.url}/api/v3/predictions/{'0' * 32}/result", headers=headers, trust_env=False)
    for response in (submit, query):
        assert response.status_code == 401
        assert response.json() == {"code": 401, "message": "Unauthorized: invalid API key", "data": None}


@pytest.mark.parametrize(
    ("model", "overrides", "message"),
    [
        (MODEL, {"image": None}, "image is required"),
        (MODEL, {"audio": ""}, "audio is required"),
        (MODEL, {"prompt": "smile"}, "unknown field: prompt"),
        ("bytedance/avatar-omni-human", {"resolution": "480p"}, "unknown field: resolution"),
        (MODEL, {"image": "data:image/png;base64,iVBORw0KGgo="}, "data: URI prefix"),
        (MODEL, {"audio": "s3://bucket/voice.wav"}, "http(s) URL or base64"),
        (MODEL, {"enable_base64_output": "yes"}, "enable_base64_output must be a boolean"),
        ("wavespeed-ai/hunyuan-avatar", {"resolution": "1080p"}, "resolution must be one of"),
        ("wavespeed-ai/hunyuan-avatar", {"seed": -2}, "seed must be an integer"),
        ("wavespeed-ai/hunyuan-avatar", {"seed": 2147483648}, "seed must be an integer"),
        ("wavespeed-ai/hunyuan-avatar", {"prompt": 5}, "prompt must be a string"),
    ],
)
def test_rejects_invalid_submissions(
    client: httpx.Client, media_url: str, model: str, overrides: dict[str, Any], message: str
) -> None:
    body = {key: value for key, value in _body(media_url, **overrides).items() if value is not None}
    response = client.post(f"/api/v3/{model}", json=body)
    assert response.status_code == 400
    envelope = response.json()
    assert (envelope["code"], envelope["data"]) == (400, None)
    assert message in envelope["message"]


def test_rejects_a_body_that_is_not_a_json_object(client: httpx.Client) -> None:
    response = client.post(f"/api/v3/{MODEL}", content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_unknown_model_and_prediction_are_not_found(client: httpx.Client, media_url: str) -> None:
    model = client.post("/api/v3/acme/avatar-9000", json=_body(media_url))
    assert (model.status_code, model.json()["code"], model.json()["data"]) == (404, 404, None)
    prediction = client.get(f"/api/v3/predictions/{'f' * 32}/result")
    assert prediction.status_code == 404
    assert prediction.json() == {"code": 404, "message": "prediction not found", "data": None}


def test_full_lifecycle_produces_a_downloadable_talking_video(client: httpx.Client, media_url: str) -> None:
    submitted = _submit(client, _body(media_url))
    assert re.fullmatch(r"[0-9a-f]{32}", submitted["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", submitted["created_at"])
    assert submitted == {
        "id": submitted["id"],
        "model": MODEL,
        "outputs": [],
        "urls": {"get": f"{client.base_url}/api/v3/predictions/{submitted['id']}/result"},
        "has_nsfw_contents": [],
        "status": "created",
        "created_at": submitted["created_at"],
        "error": "",
        "timings": {"inference": 0},
    }

    seen: list[str] = []
    completed = _wait(client, submitted["id"], seen)
    assert seen in (["processing", "completed"], ["created", "processing", "completed"])
    assert completed["has_nsfw_contents"] == [False]
    assert completed["error"] == ""
    assert completed["timings"]["inference"] > 0
    assert client.get(f"/api/v3/predictions/{submitted['id']}").json()["data"]["status"] == "completed"

    download = httpx.get(completed["outputs"][0], trust_env=False)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert int(download.headers["content-length"]) == len(download.content)
    info = inspect_mp4(download.content)
    assert (info.has_video, info.has_audio) == (True, True)
    assert info.duration_seconds == pytest.approx(AUDIO_SECONDS, abs=0.1)
    assert max(info.width, info.height) <= 360
    assert info.width % 2 == info.height % 2 == 0
    darkness = _mouth_darkness(download.content)
    assert max(darkness) - min(darkness) > 10, "the mouth should open and close with the voice"

    stats = client.get("/_simulator/stats").json()
    assert stats["downloads"] == 1
    assert stats["result_queries"] >= 3
    [submission] = stats["submissions"]
    assert submission["task_id"] == submitted["id"]
    assert (submission["provider"], submission["model"]) == ("wavespeed", MODEL)
    assert (submission["image"], submission["audio"]) == (
        f"{media_url}/portrait.png",
        f"{media_url}/voice.wav",
    )
    assert submission["status"] == "succeeded"
    assert datetime.fromisoformat(submission["received_at"]) < datetime.fromisoformat(submission["finished_at"])


def test_every_query_signs_a_fresh_url(client: httpx.Client, media_url: str) -> None:
    completed = _completed(client, media_url)
    first = completed["outputs"][0]
    client.post("/_simulator/settings", json={"result_url_ttl_seconds": 60})
    second = client.get(f"/api/v3/predictions/{completed['id']}/result").json()["data"]["outputs"][0]
    assert first != second
    for url in (first, second):
        assert httpx.get(url, trust_env=False).status_code == 200


def test_hunyuan_with_jpeg_and_mp3_inputs(client: httpx.Client, media_url: str) -> None:
    body = _body(media_url, image=f"{media_url}/portrait.jpg", audio=f"{media_url}/voice.mp3")
    body |= {"prompt": "a friendly greeting", "resolution": "720p", "seed": 42}
    prediction = _wait(client, _submit(client, body, model="wavespeed-ai/hunyuan-avatar")["id"])
    assert prediction["status"] == "completed", prediction
    assert prediction["model"] == "wavespeed-ai/hunyuan-avatar"


def test_base64_inputs_and_output(client: httpx.Client) -> None:
    body = {
        "image": base64.b64encode(portrait_png(128)).decode(),
        "audio": base64.b64encode(speech_audio(1.0)).decode(),
        "enable_base64_output": True,
    }
    prediction = _wait(client, _submit(client, body)["id"])
    assert prediction["status"] == "completed", prediction
    info = inspect_mp4(base64.b64decode(prediction["outputs"][0]))
    assert info.duration_seconds == pytest.approx(1.0, abs=0.1)
    assert client.get("/_simulator/stats").json()["submissions"][0]["image"] == body["image"]


def test_expired_result_url_is_refused_like_s3(client: httpx.Client, media_url: str) -> None:
    client.post("/_simulator/settings", json={"result_url_ttl_seconds": 0})
    response = httpx.get(_completed(client, media_url)["outputs"][0], trust_env=False)
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in response.text


def test_tampered_result_url_is_refused(client: httpx.Client, media_url: str) -> None:
    url = _completed(client, media_url)["outputs"][0]
    tampered = re.sub(r"signature=([0-9a-f])", lambda match: "signature=" + "0123"[match[1] == "0"], url)
    response = httpx.get(tampered, trust_env=False)
    assert response.status_code == 403
    assert "SignatureDoesNotMatch" in response.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"audio": "{media}/forbidden.wav"}, "failed to download audio: HTTP 403"),
        ({"image": "{media}/missing.png"}, "failed to download image: HTTP 404"),
        ({"image": "{media}/garbage.png"}, "image could not be decoded: "),
        ({"audio": "{media}/portrait.png"}, "audio could not be decoded: "),
        ({"audio": "http://127.0.0.1:9/voice.wav"}, "failed to download audio: "),
    ],
)
def test_unusable_inputs_fail_the_task(
    client: httpx.Client, media_url: str, overrides: dict[str, str], error: str
) -> None:
    body = _body(media_url, **{key: value.format(media=media_url) for key, value in overrides.items()})
    prediction = _wait(client, _submit(client, body)["id"])
    assert (prediction["status"], prediction["outputs"]) == ("failed", [])
    assert prediction["error"].startswith(error)


def test_concurrent_tasks_all_complete(client: httpx.Client, media_url: str) -> None:
    ids = [_submit(client, _body(media_url))["id"] for _ in range(4)]
    assert len(set(ids)) == 4
    assert {_wait(client, task_id)["status"] for task_id in ids} == {"completed"}


def test_throttle_fault_is_used_up_after_its_times(client: httpx.Client, media_url: str) -> None:
    _add_fault(client, "submit", "throttle", times=2)
    for _ in range(2):
        response = client.post(f"/api/v3/{MODEL}", json=_body(media_url))
        assert response.status_code == 429
        assert response.json() == {"code": 429, "message": "Too Many Requests", "data": None}
    assert client.post(f"/api/v3/{MODEL}", json=_body(media_url)).status_code == 200
    assert client.get("/_simulator/faults").json() == {"faults": []}


@pytest.mark.parametrize(("status", "expected"), [(None, 500), (503, 503)])
def test_server_error_fault(client: httpx.Client, media_url: str, status: int | None, expected: int) -> None:
    task_id = _submit(client, _body(media_url))["id"]
    _add_fault(client, "result", "server_error", **({"status": status} if status else {}))
    response = client.get(f"/api/v3/predictions/{task_id}/result")
    assert response.status_code == expected
    assert response.json() == {"code": expected, "message": response.json()["message"], "data": None}
    assert client.get(f"/api/v3/predictions/{task_id}/result").status_code == 200


def test_task_failed_fault(client: httpx.Client, media_url: str) -> None:
    _add_fault(client, "submit", "task_failed")
    failed = _wait(client, _submit(client, _body(media_url))["id"])
    assert (failed["status"], failed["error"], failed["outputs"]) == (
        "failed",
        "simulated generation failure",
        [],
    )
    assert _wait(client, _submit(client, _body(media_url))["id"])["status"] == "completed"


def test_reset_fault_closes_the_connection(client: httpx.Client, media_url: str) -> None:
    _add_fault(client, "submit", "reset")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(f"/api/v3/{MODEL}", json=_body(media_url))
    assert client.get("/_simulator/stats").json()["submissions"] == []


def test_slow_fault_delays_the_answer(client: httpx.Client, media_url: str) -> None:
    task_id = _submit(client, _body(media_url))["id"]
    _add_fault(client, "result", "slow", seconds=0.5)
    started = time.monotonic()
    assert client.get(f"/api/v3/predictions/{task_id}/result").status_code == 200
    assert time.monotonic() - started >= 0.5
    _add_fault(client, "result", "slow", seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"/api/v3/predictions/{task_id}/result", timeout=0.3)


def test_expired_url_fault(client: httpx.Client, media_url: str) -> None:
    completed = _completed(client, media_url)
    _add_fault(client, "result", "expired_url")
    expired = client.get(f"/api/v3/predictions/{completed['id']}/result").json()["data"]["outputs"][0]
    assert httpx.get(expired, trust_env=False).status_code == 403
    fresh = client.get(f"/api/v3/predictions/{completed['id']}/result").json()["data"]["outputs"][0]
    assert httpx.get(fresh, trust_env=False).status_code == 200


def test_truncated_download_fault(client: httpx.Client, media_url: str) -> None:
    url = _completed(client, media_url)["outputs"][0]
    _add_fault(client, "download", "truncated")
    received = bytearray()
    with httpx.stream("GET", url, trust_env=False) as response:
        announced = int(response.headers["content-length"])
        with pytest.raises(httpx.RemoteProtocolError):
            _read_into(received, response)
    assert len(received) == announced // 2
    assert len(httpx.get(url, trust_env=False).content) == announced


def test_wrong_type_download_fault(client: httpx.Client, media_url: str) -> None:
    url = _completed(client, media_url)["outputs"][0]
    _add_fault(client, "download", "wrong_type")
    response = httpx.get(url, trust_env=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError, match="not an MP4"):
        inspect_mp4(response.content)


def test_download_throttle_answers_like_s3(client: httpx.Client, media_url: str) -> None:
    url = _completed(client, media_url)["outputs"][0]
    _add_fault(client, "download", "throttle")
    response = httpx.get(url, trust_env=False)
    assert response.status_code == 429
    assert "<Code>SlowDown</Code>" in response.text


def test_range_requests_resume_a_download(client: httpx.Client, media_url: str) -> None:
    url = _completed(client, media_url)["outputs"][0]
    whole = httpx.get(url, trust_env=False).content
    tail = httpx.get(url, headers={"Range": "bytes=100-"}, trust_env=False)
    assert tail.status_code == 206
    assert whole[:100] + tail.content == whole


@pytest.mark.parametrize(
    "spec",
    [
        {"provider": "acme", "operation": "submit", "fault": "throttle"},
        {"provider": "wavespeed", "operation": "upload", "fault": "throttle"},
        {"provider": "wavespeed", "operation": "submit", "fault": "truncated"},
        {"provider": "wavespeed", "operation": "submit", "fault": "throttle", "times": 0},
        {"provider": "wavespeed", "operation": "submit", "fault": "throttle", "status": 503},
        {"provider": "wavespeed", "operation": "submit", "fault": "server_error", "status": 404},
        {"provider": "wavespeed", "operation": "submit", "fault": "throttle", "colour": "red"},
    ],
)
def test_invalid_fault_specs_are_rejected(client: httpx.Client, spec: dict[str, Any]) -> None:
    response = client.post("/_simulator/faults", json=spec)
    assert response.status_code == 400
    assert response.json()["error"]


def test_clearing_faults(client: httpx.Client, media_url: str) -> None:
    _add_fault(client, "submit", "throttle", times=5)
    assert client.delete("/_simulator/faults").status_code == 204
    assert client.post(f"/api/v3/{MODEL}", json=_body(media_url)).status_code == 200


def test_settings_can_be_read_and_changed(client: httpx.Client) -> None:
    changed = client.post("/_simulator/settings", json={"task_seconds": 0.5})
    assert changed.status_code == 200
    assert changed.json() == client.get("/_simulator/settings").json()
    assert changed.json()["task_seconds"] == 0.5
    for invalid in ({"task_seconds": -1}, {"task_seconds": "fast"}, {"speed": 1}):
        assert client.post("/_simulator/settings", json=invalid).status_code == 400


def test_task_takes_at_least_task_seconds(client: httpx.Client, media_url: str) -> None:
    client.post("/_simulator/settings", json={"task_seconds": 1.0})
    started = time.monotonic()
    assert _wait(client, _submit(client, _body(media_url))["id"])["status"] == "completed"
    assert time.monotonic() - started >= 1.0


def test_stats_reset(client: httpx.Client, media_url: str) -> None:
    client.post("/_simulator/settings", json={"task_seconds": 5})
    _submit(client, _body(media_url))
    assert client.delete("/_simulator/stats").status_code == 204
    stats = client.get("/_simulator/stats").json()
    assert stats | {"providers": None, "renders": None} == {
        "submissions": [],
        "result_queries": 0,
        "downloads": 0,
        "providers": None,
        "renders": None,
        "callbacks": [],
        "callback_counts": {"attempts": 0, "answered_2xx": 0, "failed_attempts": 0, "given_up": 0, "lost": 0},
    }
    assert stats["providers"]["wavespeed"] == {
        "limit": 0,
        "in_flight": 1,
        "peak_in_flight": 1,
        "busy_seconds": 0.0,
        "refused_limit": 0,
        "refused_ratio": 0,
    }, "the task in flight stays counted, and so the peak starts from it"


# --- the echo fault -------------------------------------------------------------------------------


@pytest.mark.parametrize(("operation", "status"), [("submit", None), ("submit", 400), ("result", 403), ("result", 401)])
def test_echo_fault_quotes_the_request_in_the_error_envelope(
    client: httpx.Client, media_url: str, operation: str, status: int | None
) -> None:
    _add_fault(client, operation, "echo", **({} if status is None else {"status": status}))
    body = _body(media_url)
    if operation == "submit":
        response = client.post(f"/api/v3/{MODEL}", json=body)
    else:
        response = client.get(f"/api/v3/predictions/{_submit(client, body)['id']}/result")
    expected = status or 401
    assert response.status_code == expected
    envelope = response.json()
    assert (envelope["code"], envelope["data"]) == (expected, None)
    message = envelope["message"]
    assert f'"Authorization": "Bearer {API_KEY}"' in message
    if operation == "submit":
        assert f"POST /api/v3/{MODEL} headers" in message
        assert f'"image":"{media_url}/portrait.png"' in message.replace(" ", "")
        assert client.get("/_simulator/stats").json()["submissions"] == []
    assert client.get("/_simulator/faults").json() == {"faults": []}, "the fault is used up"


def test_the_adapter_facing_an_echo_keeps_the_key_and_signatures_out_of_the_cause(
    simulator: ProviderSimulator, client: httpx.Client, media_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wavespeed, "provider_credentials", lambda secret_arn, section: {"api_key": API_KEY})
    signed = "X-Amz-Credential=ASIAY34FZKBOKMUTVV7A&X-Amz-Signature=5d41402abc4b2a76b9719d911017c592"
    inputs = PresignedInputs(f"{media_url}/portrait.png?{signed}", f"{media_url}/voice.wav?{signed}", lambda uri: uri)
    job = Job.model_validate(
        {
            "job_id": "j-echo",
            "provider": "wavespeed/omnihuman-1.5",
            "image": {"s3": {"bucket": "in", "key": "portrait.png"}},
            "audio": {"s3": {"bucket": "in", "key": "voice.wav"}},
            "request": {"image": "portrait.png", "audio": "voice.wav"},
            "trigger": "console",
            "requested_at": datetime.now(UTC),
        }
    )
    _add_fault(client, "submit", "echo")
    with httpx.Client(trust_env=False) as http, pytest.raises(ProviderRejected) as caught:
        wavespeed.WaveSpeedAdapter(WAVESPEED_OMNIHUMAN_15, simulator.url, http, SECRET_ARN).submit(job, inputs)
    cause = caught.value.cause
    assert "HTTP 401" in cause
    for secret in (API_KEY, "ASIAY34FZKBOKMUTVV7A", "5d41402abc4b2a76b9719d911017c592"):
        assert secret not in cause
    assert f"{media_url}/portrait.png?[redacted]" in cause


@pytest.mark.parametrize(
    "spec",
    [
        {"operation": "download", "fault": "echo"},
        {"operation": "submit", "fault": "echo", "status": 404},
        {"operation": "submit", "fault": "echo", "status": 500},
        {"operation": "submit", "fault": "echo", "status": "401"},
        {"operation": "result", "fault": "echo", "status": 401.0},
        {"operation": "result", "fault": "echo", "status": True},
        {"operation": "submit", "fault": "throttle", "status": 401},
        {"operation": "submit", "fault": "server_error", "status": 401},
        {"operation": "submit", "fault": "echo", "seconds": 1},
    ],
)
def test_invalid_echo_fault_specs_are_rejected(client: httpx.Client, spec: dict[str, Any]) -> None:
    response = client.post("/_simulator/faults", json={"provider": "wavespeed", **spec})
    assert response.status_code == 400, response.text
    assert response.json()["error"]
