"""The real Kling adapter against the provider simulator's Kling AI Avatar API over real HTTP, with inputs
served from a local file server: lifecycle, both auth modes, request validation, idempotent submit, faults."""

import base64
import io
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from avatar_local.mp4info import inspect_mp4
from avatar_local.samples import portrait_jpeg, portrait_png, speech_audio
from avatar_local.simulator import ProviderSimulator, SimulatorSettings
from avatar_pipeline.capabilities import KLING_AVATAR
from avatar_pipeline.errors import (
    PipelineError,
    ProviderRejected,
    ProviderTaskFailed,
    ProviderThrottled,
    ProviderUnavailable,
    ResultUnavailable,
)
from avatar_pipeline.models import Job
from avatar_pipeline.providers import kling
from avatar_pipeline.providers.base import ExternalIdTaken, PresignedInputs, TaskRef
from avatar_pipeline.providers.classify import SubmitOutcomeUnknown
from PIL import Image

from ..media_server import Files, serve_files

pytestmark = pytest.mark.integration

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:provider"
API_KEY = "kling-sim-api-key"
ACCESS_KEY = "kling-sim-access-key"
SECRET_KEY = "kling-sim-secret-key-0123456789abcdef"
CREDENTIALS = {"api_key": API_KEY, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
AUTH_MODES = {"api_key": {"api_key": API_KEY}, "jwt": {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}}
PATH = "/v1/videos/avatar/image2video"
AUDIO_SECONDS = 2.5
TASK_SECONDS = 0.2


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 160, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _webp() -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(portrait_png(320))).save(buffer, format="WEBP")
    return buffer.getvalue()


FILES: Files = {
    "/portrait.png": (200, "application/octet-stream", portrait_png(320)),
    "/portrait.jpg": (200, "application/octet-stream", portrait_jpeg(400, seed=2)),
    "/voice.wav": (200, "application/octet-stream", speech_audio(AUDIO_SECONDS)),
    "/voice.mp3": (200, "application/octet-stream", speech_audio(AUDIO_SECONDS, fmt="mp3")),
    "/small.png": (200, "application/octet-stream", portrait_png(256)),
    "/wide.png": (200, "application/octet-stream", _png(800, 300)),
    "/portrait.webp": (200, "application/octet-stream", _webp()),
    "/short.wav": (200, "application/octet-stream", speech_audio(1.0)),
    "/forbidden.wav": (403, "application/octet-stream", b"<Error><Code>AccessDenied</Code></Error>"),
}


@pytest.fixture(scope="module")
def media_url() -> Iterator[str]:
    with serve_files(FILES) as url:
        yield url


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    settings = SimulatorSettings(task_seconds=TASK_SECONDS, download_timeout_seconds=5.0)
    with ProviderSimulator({"kling": CREDENTIALS}, settings=settings) as running:
        yield running


@pytest.fixture
def admin(simulator: ProviderSimulator) -> Iterator[httpx.Client]:
    """Plain client for the admin API and raw protocol checks (authenticated with the API key)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=simulator.url, headers=headers, timeout=10, trust_env=False) as http:
        http.delete("/_simulator/faults")
        http.delete("/_simulator/stats")
        yield http
        http.delete("/_simulator/faults")


@pytest.fixture(params=sorted(AUTH_MODES))
def auth_mode(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    entry = dict(AUTH_MODES["api_key"])
    monkeypatch.setattr(kling, "provider_credentials", lambda secret_arn, section: dict(entry))
    return entry


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


def _adapter(simulator: ProviderSimulator, client: httpx.Client, clock: kling.Clock = time.time) -> kling.KlingAdapter:
    return kling.KlingAdapter(KLING_AVATAR, simulator.url, client, SECRET_ARN, clock=clock, tokens=kling.JwtCache())


@pytest.fixture
def adapter(simulator: ProviderSimulator, http: httpx.Client, credentials: dict[str, str]) -> kling.KlingAdapter:
    return _adapter(simulator, http)


def _job(job_id: str | None = None, *, audio: bool = True, **options: Any) -> Job:
    request: dict[str, Any] = {"image": "a.png", "prompt": "smiles, slow push-in", "options": options}
    if audio:
        request["audio"] = "a.wav"
    return Job.model_validate(
        {
            "job_id": job_id or f"job-{uuid.uuid4().hex[:12]}",
            "provider": "kling/avatar",
            "image": {"s3": {"bucket": "in", "key": "a.png"}},
            "audio": {"s3": {"bucket": "in", "key": "a.wav"}} if audio else None,
            "request": request,
            "trigger": "console",
            "requested_at": datetime.now(UTC),
        }
    )


def _inputs(media_url: str, image: str = "portrait.png", audio: str | None = "voice.wav") -> PresignedInputs:
    return PresignedInputs(
        image_url=f"{media_url}/{image}",
        audio_url=f"{media_url}/{audio}" if audio else None,
        presign=lambda uri: uri,
    )


def _finish(adapter: kling.KlingAdapter, job: Job, task: TaskRef) -> list[str]:
    """Poll until the task succeeds (raising what check raises); returns the provider statuses seen."""
    seen: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        check = adapter.check(job, task)
        if not seen or seen[-1] != check.provider_status:
            seen.append(check.provider_status)
        if check.status == "succeeded":
            return seen
        time.sleep(0.03)
    raise AssertionError(f"task {task.task_id} did not finish")


def _download_mp4(url: str) -> bytes:
    response = httpx.get(url, trust_env=False)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    return response.content


def _fault(admin: httpx.Client, operation: str, fault: str, **extra: Any) -> None:
    response = admin.post(
        "/_simulator/faults", json={"provider": "kling", "operation": operation, "fault": fault, **extra}
    )
    assert response.status_code == 201, response.text


def _body(media_url: str, **overrides: Any) -> dict[str, Any]:
    body = {"image": f"{media_url}/portrait.png", "sound_file": f"{media_url}/voice.wav", **overrides}
    return {key: value for key, value in body.items() if value is not None}


def _assert_error(response: httpx.Response, status: int, code: int, message: str = "") -> None:
    assert response.status_code == status, response.text
    envelope = response.json()
    assert set(envelope) == {"code", "message", "request_id"}
    assert envelope["code"] == code
    assert message in envelope["message"]
    assert envelope["request_id"]


def _token(*, now: float | None = None, secret: str = SECRET_KEY, issuer: str = ACCESS_KEY, **claims: Any) -> str:
    now = time.time() if now is None else now
    payload = {"iss": issuer, "exp": int(now) + 1800, "nbf": int(now) - 5, **claims}
    return jwt.encode(payload, secret, algorithm="HS256", headers={"typ": "JWT"})


# --- lifecycle ------------------------------------------------------------------------------------


def test_full_lifecycle_to_a_downloadable_mp4(
    simulator: ProviderSimulator,
    admin: httpx.Client,
    media_url: str,
    adapter: kling.KlingAdapter,
    credentials: dict[str, str],
    auth_mode: str,
) -> None:
    credentials.clear()
    credentials.update(AUTH_MODES[auth_mode])
    job, external = _job(mode="pro", watermark=True), _external_id()
    task = adapter.submit(job, _inputs(media_url), external_id=external)
    assert _finish(adapter, job, task)[-1] == "succeed"
    video = _download_mp4(adapter.result(job, task).url)
    info = inspect_mp4(video)
    assert (info.has_video, info.has_audio) == (True, True)
    assert info.duration_seconds == pytest.approx(AUDIO_SECONDS, abs=0.1)

    [submission] = admin.get("/_simulator/stats").json()["submissions"]
    assert submission["provider"] == "kling"
    assert submission["task_id"] == task.task_id
    assert submission["image"] == f"{media_url}/portrait.png"
    assert submission["audio"] == f"{media_url}/voice.wav"
    assert (submission["external_task_id"], submission["mode"]) == (external, "pro")


def test_query_answers_the_documented_shape_by_task_id_and_external_id(
    admin: httpx.Client, media_url: str, adapter: kling.KlingAdapter
) -> None:
    job = _job(watermark=True)
    created = admin.post(PATH, json=_body(media_url, external_task_id=job.job_id, watermark_info={"enabled": True}))
    assert created.status_code == 200, created.text
    envelope = created.json()
    assert (envelope["code"], envelope["message"]) == (0, "SUCCEED")
    data = envelope["data"]
    assert set(data) == {"task_id", "task_info", "task_status", "created_at", "updated_at"}
    assert (data["task_status"], data["task_info"]) == ("submitted", {"external_task_id": job.job_id})
    assert data["created_at"] == data["updated_at"] > 1_700_000_000_000

    _finish(adapter, job, TaskRef(data["task_id"]))
    by_id = admin.get(f"{PATH}/{data['task_id']}").json()["data"]
    by_external = admin.get(f"{PATH}/{job.job_id}").json()["data"]
    assert by_id["task_id"] == by_external["task_id"] == data["task_id"]
    assert by_id["task_status"] == "succeed"
    assert by_id["updated_at"] >= by_id["created_at"]
    assert float(by_id["final_unit_deduction"]) > 0
    [video] = by_id["task_result"]["videos"]
    assert set(video) == {"id", "url", "watermark_url", "duration"}
    assert float(video["duration"]) == pytest.approx(AUDIO_SECONDS, abs=0.1)
    assert inspect_mp4(_download_mp4(video["watermark_url"])).has_video


def test_jpeg_and_mp3_inputs(media_url: str, adapter: kling.KlingAdapter) -> None:
    job = _job()
    task = adapter.submit(job, _inputs(media_url, "portrait.jpg", "voice.mp3"))
    _finish(adapter, job, task)
    assert inspect_mp4(_download_mp4(adapter.result(job, task).url)).has_audio


def test_audio_id_renders_with_the_registered_audio(
    admin: httpx.Client, media_url: str, adapter: kling.KlingAdapter
) -> None:
    registered = admin.post("/_simulator/kling/audio", json={"seconds": 3.0, "format": "mp3"})
    assert registered.status_code == 201, registered.text
    audio_id = registered.json()["audio_id"]
    job = _job(audio=False, audio_id=audio_id)
    task = adapter.submit(job, _inputs(media_url, audio=None))
    _finish(adapter, job, task)
    info = inspect_mp4(_download_mp4(adapter.result(job, task).url))
    assert info.duration_seconds == pytest.approx(3.0, abs=0.15)
    [submission] = admin.get("/_simulator/stats").json()["submissions"]
    assert submission["audio"] == f"audio_id:{audio_id}"


def test_audio_can_be_registered_as_raw_bytes(admin: httpx.Client) -> None:
    raw = admin.post("/_simulator/kling/audio", content=speech_audio(2.0), headers={"Content-Type": "audio/wav"})
    assert raw.status_code == 201
    assert raw.json()["duration"] == pytest.approx(2.0, abs=0.05)
    garbage = admin.post("/_simulator/kling/audio", content=b"not audio", headers={"Content-Type": "audio/wav"})
    assert garbage.status_code == 400
    assert admin.post("/_simulator/kling/audio", json={"seconds": "long"}).status_code == 400


def test_unknown_audio_id_is_rejected(media_url: str, adapter: kling.KlingAdapter) -> None:
    with pytest.raises(ProviderRejected, match=r"code 1201 .*invalid audio_id"):
        adapter.submit(_job(audio=False, audio_id="never-registered"), _inputs(media_url, audio=None))


def _external_id() -> str:
    """The simulator keeps one account per module, where external ids are unique: one per test."""
    return f"avp-{uuid.uuid4().hex}"


def test_a_second_create_under_the_same_external_id_is_refused_and_the_first_found(
    admin: httpx.Client, media_url: str, adapter: kling.KlingAdapter
) -> None:
    job, started, external = _job(), datetime.now(UTC), _external_id()
    first = adapter.submit(job, _inputs(media_url), external_id=external)
    with pytest.raises(ExternalIdTaken, match="external_task_id already exists"):
        adapter.submit(job, _inputs(media_url), external_id=external)
    assert adapter.find(job, stage="generate", external_id=external, not_before=started) == first
    assert adapter.find(job, stage="generate", external_id="avp-someone-else", not_before=started) is None
    assert len(admin.get("/_simulator/stats").json()["submissions"]) == 1


def test_unknown_task(admin: httpx.Client, adapter: kling.KlingAdapter) -> None:
    _assert_error(admin.get(f"{PATH}/no-such-task"), 404, 1203, "task not found")
    with pytest.raises(ProviderTaskFailed, match="unknown to kling"):
        adapter.check(_job(), TaskRef("no-such-task"))
    with pytest.raises(ResultUnavailable):
        adapter.result(_job(), TaskRef("no-such-task"))


# --- auth -----------------------------------------------------------------------------------------


def test_expired_jwt_is_refused(
    media_url: str, simulator: ProviderSimulator, http: httpx.Client, credentials: dict[str, str]
) -> None:
    credentials.clear()
    credentials.update(AUTH_MODES["jwt"])
    stale = _adapter(simulator, http, clock=lambda: time.time() - 3600)
    with pytest.raises(ProviderRejected) as caught:
        stale.submit(_job(), _inputs(media_url))
    assert "code 1004" in caught.value.cause
    assert "check the kling credentials in the provider secret" in caught.value.cause
    assert SECRET_KEY not in caught.value.cause


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, 1001),
        ("", 1001),
        (f"Token {API_KEY}", 1002),
        ("Bearer wrong-key", 1002),
        ("Bearer {expired}", 1004),
        ("Bearer {future}", 1003),
        ("Bearer {bad_signature}", 1002),
        ("Bearer {other_issuer}", 1000),
    ],
    ids=["missing", "empty", "not-bearer", "wrong-key", "expired", "not-yet-valid", "bad-signature", "other-iss"],
)
def test_auth_refusals(simulator: ProviderSimulator, media_url: str, header: str | None, code: int) -> None:
    tokens = {
        "expired": _token(now=time.time() - 3600),
        "future": _token(nbf=int(time.time()) + 600),
        "bad_signature": _token(secret="another-secret-key-0123456789abcdef"),
        "other_issuer": _token(issuer="someone-else"),
    }
    headers = {} if header is None else {"Authorization": header.format(**tokens)}
    for response in (
        httpx.post(f"{simulator.url}{PATH}", json=_body(media_url), headers=headers, trust_env=False),
        httpx.get(f"{simulator.url}{PATH}/anything", headers=headers, trust_env=False),
    ):
        _assert_error(response, 401, code)


def test_a_valid_jwt_is_accepted(simulator: ProviderSimulator) -> None:
    response = httpx.get(
        f"{simulator.url}{PATH}/anything", headers={"Authorization": f"Bearer {_token()}"}, trust_env=False
    )
    _assert_error(response, 404, 1203)


# --- request validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image": "data:image/png;base64,iVBORw0KGgo="}, "invalid image: do not add a data: prefix"),
        ({"image": None}, "image is required"),
        ({"image": "not base64!"}, "invalid image: must be a URL or base64"),
        ({"sound_file": None}, "exactly one of audio_id or sound_file"),
        ({"audio_id": "x"}, "exactly one of audio_id or sound_file"),
        ({"audio": "{media}/voice.wav", "sound_file": None}, "unknown field: audio"),
        ({"model_name": "kling-v2"}, "model_name is not supported"),
        ({"prompt": "x" * 2501}, "prompt must be a string of at most 2500"),
        ({"mode": "max"}, "mode must be one of: std, pro"),
        ({"watermark_info": True}, "watermark_info must be an object"),
        ({"watermark_info": {"enabled": "yes"}}, "watermark_info must be an object"),
        ({"callback_url": "ftp://x"}, "callback_url must be an http(s) URL"),
        ({"external_task_id": ""}, "external_task_id must be a non-empty string"),
    ],
    ids=[
        "data-prefix",
        "no-image",
        "bad-base64",
        "no-audio",
        "both-audio",
        "wrong-field",
        "model-name",
        "long-prompt",
        "bad-mode",
        "watermark-bool",
        "watermark-enabled",
        "callback",
        "empty-external-id",
    ],
)
def test_invalid_requests_are_refused(
    admin: httpx.Client, media_url: str, overrides: dict[str, Any], message: str
) -> None:
    overrides = {k: v.format(media=media_url) if isinstance(v, str) else v for k, v in overrides.items()}
    _assert_error(admin.post(PATH, json=_body(media_url, **overrides)), 400, 1201, message)
    assert admin.get("/_simulator/stats").json()["submissions"] == []


def test_body_must_be_a_json_object(admin: httpx.Client) -> None:
    _assert_error(admin.post(PATH, json=[1, 2]), 400, 1200)


def test_duplicate_external_task_id_is_refused(admin: httpx.Client, media_url: str) -> None:
    body = _body(media_url, external_task_id=f"dup-{uuid.uuid4().hex}")
    assert admin.post(PATH, json=body).status_code == 200
    _assert_error(admin.post(PATH, json=body), 400, 1201, "external_task_id already exists")


def test_raw_base64_inputs_are_accepted(admin: httpx.Client, adapter: kling.KlingAdapter) -> None:
    body = {
        "image": base64.b64encode(portrait_png(320)).decode(),
        "sound_file": base64.b64encode(speech_audio(AUDIO_SECONDS)).decode(),
    }
    created = admin.post(PATH, json=body)
    assert created.status_code == 200, created.text
    _finish(adapter, _job(), TaskRef(created.json()["data"]["task_id"]))


@pytest.mark.parametrize(
    ("image", "audio", "reason"),
    [
        ("small.png", "voice.wav", "each side must be at least 300 px"),
        ("wide.png", "voice.wav", "aspect ratio 800:300 is outside 1:2.5 to 2.5:1"),
        ("portrait.webp", "voice.wav", "image format WEBP is not supported"),
        ("portrait.png", "short.wav", "audio is 1.0 s long: it must be between 2 and 300 s"),
        ("portrait.png", "forbidden.wav", "failed to download sound_file: HTTP 403"),
        ("missing.png", "voice.wav", "failed to download image: HTTP 404"),
    ],
)
def test_unusable_media_fails_the_task(
    media_url: str, adapter: kling.KlingAdapter, image: str, audio: str, reason: str
) -> None:
    job = _job()
    task = adapter.submit(job, _inputs(media_url, image, audio))
    with pytest.raises(ProviderTaskFailed) as caught:
        _finish(adapter, job, task)
    assert reason in caught.value.cause


# --- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "extra", "error", "code"),
    [
        ("throttle", {}, ProviderThrottled, 1302),
        ("concurrency", {}, ProviderThrottled, 1303),
        ("server_error", {}, ProviderUnavailable, 5000),
        ("server_error", {"status": 503}, ProviderUnavailable, 5001),
        ("arrears", {}, ProviderRejected, 1101),
        ("content_safety", {}, ProviderRejected, 1301),
    ],
    ids=["throttle", "concurrency", "500", "503", "arrears", "content-safety"],
)
def test_submit_faults(
    admin: httpx.Client,
    media_url: str,
    adapter: kling.KlingAdapter,
    fault: str,
    extra: dict[str, Any],
    error: type[PipelineError],
    code: int,
) -> None:
    _fault(admin, "submit", fault, **extra)
    job = _job()
    with pytest.raises(error) as caught:
        adapter.submit(job, _inputs(media_url))
    assert type(caught.value) is error
    assert f"code {code}" in caught.value.cause
    assert admin.get("/_simulator/stats").json()["submissions"] == []
    adapter.submit(job, _inputs(media_url))  # the fault is used up; the retry goes through


def test_a_504_on_a_create_is_an_unknown_outcome(
    admin: httpx.Client, media_url: str, adapter: kling.KlingAdapter
) -> None:
    _fault(admin, "submit", "server_error", status=504)
    with pytest.raises(SubmitOutcomeUnknown, match="HTTP 504"):
        adapter.submit(_job(), _inputs(media_url), external_id=_external_id())


@pytest.mark.parametrize(
    ("fault", "error"),
    [("throttle", ProviderThrottled), ("concurrency", ProviderThrottled), ("server_error", ProviderUnavailable)],
)
def test_query_faults(
    admin: httpx.Client, media_url: str, adapter: kling.KlingAdapter, fault: str, error: type[PipelineError]
) -> None:
    job = _job()
    task = adapter.submit(job, _inputs(media_url))
    _fault(admin, "result", fault)
    with pytest.raises(error):
        adapter.check(job, task)
    _finish(adapter, job, task)


def test_task_failed_fault(admin: httpx.Client, media_url: str, adapter: kling.KlingAdapter) -> None:
    _fault(admin, "submit", "task_failed")
    job = _job()
    task = adapter.submit(job, _inputs(media_url))
    with pytest.raises(ProviderTaskFailed, match="simulated generation failure"):
        _finish(adapter, job, task)


def test_expired_url_fault(admin: httpx.Client, media_url: str, adapter: kling.KlingAdapter) -> None:
    job = _job()
    task = adapter.submit(job, _inputs(media_url))
    _finish(adapter, job, task)
    _fault(admin, "result", "expired_url")
    expired = httpx.get(adapter.result(job, task).url, trust_env=False)
    assert expired.status_code == 403
    assert "Request has expired" in expired.text
    assert inspect_mp4(_download_mp4(adapter.result(job, task).url)).has_video


@pytest.mark.parametrize("auth_mode", sorted(AUTH_MODES))
def test_auth_expired_fault_is_survived_by_re_signing(
    admin: httpx.Client, media_url: str, adapter: kling.KlingAdapter, credentials: dict[str, str], auth_mode: str
) -> None:
    credentials.clear()
    credentials.update(AUTH_MODES[auth_mode])
    job = _job()
    task = adapter.submit(job, _inputs(media_url))
    _fault(admin, "result", "auth_expired")
    before = admin.get("/_simulator/stats").json()["result_queries"]
    adapter.check(job, task)
    assert admin.get("/_simulator/stats").json()["result_queries"] == before + 2
    assert admin.get("/_simulator/faults").json() == {"faults": []}


def test_auth_expired_twice_is_rejected(admin: httpx.Client, media_url: str, adapter: kling.KlingAdapter) -> None:
    _fault(admin, "submit", "auth_expired", times=2)
    with pytest.raises(ProviderRejected, match="check the kling credentials in the provider secret"):
        adapter.submit(_job(), _inputs(media_url))


@pytest.mark.parametrize(
    "spec",
    [
        {"provider": "kling", "operation": "download", "fault": "content_safety"},
        {"provider": "wavespeed", "operation": "submit", "fault": "arrears"},
        {"provider": "kling", "operation": "submit", "fault": "concurrency", "status": 503},
    ],
)
def test_kling_fault_kinds_are_only_valid_for_kling_requests(admin: httpx.Client, spec: dict[str, Any]) -> None:
    assert admin.post("/_simulator/faults", json=spec).status_code == 400


# --- the echo fault -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "status", "code"),
    [("submit", None, 1002), ("submit", 400, 1201), ("result", 403, 1103), ("result", 401, 1002)],
)
def test_echo_fault_quotes_the_request_in_the_error_envelope(
    admin: httpx.Client, media_url: str, operation: str, status: int | None, code: int
) -> None:
    _fault(admin, operation, "echo", **({} if status is None else {"status": status}))
    response = admin.post(PATH, json=_body(media_url)) if operation == "submit" else admin.get(f"{PATH}/anything")
    _assert_error(response, status or 401, code, f'"Authorization": "Bearer {API_KEY}"')
    if operation == "submit":
        assert f'"image":"{media_url}/portrait.png"' in response.json()["message"].replace(" ", "")
        assert admin.get("/_simulator/stats").json()["submissions"] == []
    assert admin.get("/_simulator/faults").json() == {"faults": []}, "the fault is used up"


@pytest.mark.parametrize("auth_mode", sorted(AUTH_MODES))
@pytest.mark.parametrize(("operation", "status"), [("submit", 401), ("submit", 400), ("result", 403)])
def test_the_adapter_facing_an_echo_keeps_credentials_out_of_the_cause(
    admin: httpx.Client,
    media_url: str,
    adapter: kling.KlingAdapter,
    credentials: dict[str, str],
    auth_mode: str,
    operation: str,
    status: int,
) -> None:
    credentials.clear()
    credentials.update(AUTH_MODES[auth_mode])
    # A 401 is answered by re-signing once: both attempts are echoed.
    _fault(admin, operation, "echo", status=status, times=2 if status == 401 else 1)
    with pytest.raises(PipelineError) as caught:
        _submit_or_query(adapter, operation, _inputs(media_url), TaskRef("anything"))
    cause = caught.value.cause
    assert f"HTTP {status}" in cause
    for secret in (API_KEY, ACCESS_KEY, SECRET_KEY):
        assert secret not in cause
    assert "Bearer ey" not in cause


def _submit_or_query(adapter: kling.KlingAdapter, operation: str, inputs: PresignedInputs, task: TaskRef) -> None:
    if operation == "submit":
        adapter.submit(_job(), inputs)
    else:
        adapter.result(_job(), task)
