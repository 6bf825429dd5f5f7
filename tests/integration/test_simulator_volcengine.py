"""The real Volcengine adapter against the provider simulator's Volcengine Visual API over real HTTP."""

import hashlib
import io
import json
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from avatar_local.mp4info import inspect_mp4
from avatar_local.samples import portrait_png, speech_audio
from avatar_local.simulator import ProviderSimulator, SimulatorSettings
from avatar_pipeline.capabilities import VOLCENGINE_OMNIHUMAN_15
from avatar_pipeline.errors import (
    InvalidMedia,
    PipelineError,
    ProviderRejected,
    ProviderTaskFailed,
    ProviderThrottled,
    ProviderUnavailable,
)
from avatar_pipeline.models import Job
from avatar_pipeline.providers import volcengine
from avatar_pipeline.providers.base import PresignedInputs, ResultLocation, TaskRef
from avatar_pipeline.providers.classify import SubmitOutcomeUnknown
from avatar_pipeline.providers.volcengine_signing import sign_request
from PIL import Image
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

from ..media_server import Files, serve_files

pytestmark = pytest.mark.integration

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:provider"
AK = "AKLTsimulatoraccesskey0001"
SK = "c2ltdWxhdG9yLXNlY3JldC1rZXk="
AUDIO_SECONDS = 2.0
VIDEO = "jimeng_realman_avatar_picture_omni_v15"
SUBJECT = "jimeng_realman_avatar_picture_create_role_omni_v15"
DETECTION = "jimeng_realman_avatar_object_detection"
FILES: Files = {
    "/portrait.png": (200, "image/png", portrait_png(256)),
    "/voice.wav": (200, "audio/wav", speech_audio(AUDIO_SECONDS)),
    "/long.wav": (200, "audio/wav", speech_audio(60.5, sample_rate=8000)),
    "/garbage.png": (200, "image/png", b"this is not an image"),
}


@pytest.fixture(scope="module")
def media_url() -> Iterator[str]:
    with serve_files(FILES) as url:
        yield url


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    settings = SimulatorSettings(task_seconds=0.1, download_timeout_seconds=5.0)
    with ProviderSimulator(
        {"volcengine": {"access_key_id": AK, "secret_access_key": SK}}, settings=settings
    ) as running:
        yield running


@pytest.fixture
def admin(simulator: ProviderSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.url, timeout=10, trust_env=False) as http:
        yield http
        http.delete("/_simulator/faults")
        http.delete("/_simulator/stats")
        http.post("/_simulator/settings", json={"task_seconds": 0.1, "result_url_ttl_seconds": 3600})


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The provider secret's volcengine entry the adapter reads; tests may change it."""
    entry = {"access_key_id": AK, "secret_access_key": SK}
    monkeypatch.setattr(volcengine, "provider_credentials", lambda secret_arn, section: entry)
    return entry


class Sent:
    """Every request the adapter sends, with its parsed JSON body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.responses: list[tuple[str, Any]] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append((request.url.params.get("Action", ""), json.loads(request.content or b"null")))

    def response(self, response: httpx.Response) -> None:
        response.read()
        self.responses.append((response.request.url.params.get("Action", ""), response.json()))

    def bodies(self, action: str) -> list[dict[str, Any]]:
        return [body for sent_action, body in self.requests if sent_action == action]

    def answers(self, action: str) -> list[Any]:
        return [body for sent_action, body in self.responses if sent_action == action]


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def adapter(
    simulator: ProviderSimulator, admin: httpx.Client, secret: dict[str, str], sent: Sent
) -> Iterator[volcengine.VolcengineAdapter]:
    with httpx.Client(
        timeout=10, trust_env=False, event_hooks={"request": [sent], "response": [sent.response]}
    ) as client:
        yield volcengine.VolcengineAdapter(VOLCENGINE_OMNIHUMAN_15, simulator.url, client, SECRET_ARN)


def _job(**request: Any) -> Job:
    return Job.model_validate(
        {
            "job_id": "job-1",
            "provider": "volcengine/omnihuman-1.5",
            "image": {"s3": {"bucket": "in", "key": "portrait.png"}},
            "audio": {"s3": {"bucket": "in", "key": "voice.wav"}},
            "request": {"image": "portrait.png", "audio": "voice.wav", **request},
            "trigger": "console",
            "requested_at": datetime.now(UTC),
        }
    )


def _inputs(media_url: str, image: str = "portrait.png", audio: str = "voice.wav") -> PresignedInputs:
    return PresignedInputs(f"{media_url}/{image}", f"{media_url}/{audio}", lambda uri: uri)


def _run(
    adapter: volcengine.VolcengineAdapter, job: Job, inputs: PresignedInputs, seen: list[str] | None = None
) -> TaskRef:
    """Submit and poll to success, following stage changes; returns the finished task."""
    task = adapter.submit(job, inputs)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        check = adapter.check(job, task)
        if seen is not None:
            seen.append(f"{task.stage}:{check.provider_status}")
        if check.next_stage is not None:  # as the submission core does, through its ledger
            task = adapter.submit(job, inputs, stage=check.next_stage)
        if check.status == "succeeded":
            return task
        time.sleep(0.02)
    raise AssertionError(f"task {task} did not finish")


def _add_fault(admin: httpx.Client, operation: str, fault: str, **extra: Any) -> None:
    response = admin.post(
        "/_simulator/faults", json={"provider": "volcengine", "operation": operation, "fault": fault, **extra}
    )
    assert response.status_code == 201, response.text


def _signed_post(
    simulator: ProviderSimulator,
    action: str,
    body: Any,
    *,
    access_key: str = AK,
    secret_key: str = SK,
    now: datetime | None = None,
    version: str = "2022-08-31",
) -> httpx.Response:
    """A request signed by the official SDK, not by the pipeline's signer."""
    content = json.dumps(body).encode()
    host = simulator.url.removeprefix("http://")
    param = SignParam()
    param.set_method("POST")
    param.set_host(host)
    param.set_path("/")
    param.set_body(content)
    param.set_query(OrderedDict([("Action", action), ("Version", version)]))
    param.set_date(now or datetime.now(UTC))
    param.set_header_list(OrderedDict([("Content-Type", "application/json"), ("Host", host)]))
    signed = SignerV4.sign_only(param, Credentials(access_key, secret_key, "cv", "cn-north-1"))
    headers = {
        "Content-Type": "application/json",
        "X-Date": signed.xdate,
        "X-Content-Sha256": signed.xContextSha256,
        "Authorization": signed.authorization,
    }
    url = f"{simulator.url}/?Action={action}&Version={version}"
    return httpx.post(url, content=content, headers=headers, trust_env=False)


def _cause(error: PipelineError) -> str:
    assert SK not in error.cause
    assert "wrong-secret" not in error.cause
    assert "HMAC-SHA256 Credential" not in error.cause
    return error.cause


# --- lifecycle ------------------------------------------------------------------------------------


def test_full_lifecycle_produces_a_downloadable_talking_video(
    adapter: volcengine.VolcengineAdapter, admin: httpx.Client, media_url: str, sent: Sent
) -> None:
    seen: list[str] = []
    job = _job(prompt="说话时微笑 — smiles while speaking", seed=42)
    task = _run(adapter, job, _inputs(media_url), seen)
    assert task.stage == "generate"
    assert task.task_id.isdigit()
    assert seen[-1] == "generate:done"
    assert set(seen[:-1]) <= {"generate:in_queue", "generate:generating"}

    location = adapter.result(job, task)
    assert location.aigc_meta_tagged is False
    download = httpx.get(location.url, trust_env=False)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    info = inspect_mp4(download.content)
    assert (info.has_video, info.has_audio) == (True, True)
    assert info.duration_seconds == pytest.approx(AUDIO_SECONDS, abs=0.1)
    again = adapter.result(job, task)
    assert httpx.get(again.url, trust_env=False).status_code == 200

    [submitted] = sent.bodies("CVSubmitTask")
    assert submitted == {
        "req_key": VIDEO,
        "image_url": f"{media_url}/portrait.png",
        "audio_url": f"{media_url}/voice.wav",
        "seed": 42,
        "prompt": "说话时微笑 — smiles while speaking",
        "output_resolution": 1080,
        "pe_fast_mode": False,
    }
    stats = admin.get("/_simulator/stats").json()
    [submission] = stats["submissions"]
    assert (submission["provider"], submission["model"], submission["task_id"]) == ("volcengine", VIDEO, task.task_id)
    assert (submission["image"], submission["audio"]) == (f"{media_url}/portrait.png", f"{media_url}/voice.wav")
    assert stats["downloads"] == 2


def test_aigc_meta_tags_the_video(adapter: volcengine.VolcengineAdapter, media_url: str, sent: Sent) -> None:
    meta = {"content_producer": "avatar-pipeline", "producer_id": "job-1", "content_propagator": "campaign-7"}
    job = _job(aigc_meta=meta, options={"output_resolution": 720})
    location = adapter.result(job, _run(adapter, job, _inputs(media_url)))
    assert location == ResultLocation(location.url, aigc_meta_tagged=True)
    assert all(json.loads(body["req_json"]) == {"aigc_meta": meta} for body in sent.bodies("CVGetResult"))
    assert sent.bodies("CVSubmitTask")[0]["pe_fast_mode"] is True


def test_subject_check_then_video(adapter: volcengine.VolcengineAdapter, admin: httpx.Client, media_url: str) -> None:
    seen: list[str] = []
    job = _job(options={"check_subject": True})
    task = _run(adapter, job, _inputs(media_url), seen)
    assert task.stage == "generate"
    assert seen.index("subject_check:done") < seen.index("generate:done")
    assert [entry["model"] for entry in admin.get("/_simulator/stats").json()["submissions"]] == [SUBJECT, VIDEO]
    assert inspect_mp4(httpx.get(adapter.result(job, task).url, trust_env=False).content).has_video


def test_speaker_sends_the_nth_mask(adapter: volcengine.VolcengineAdapter, media_url: str, sent: Sent) -> None:
    job = _job(options={"speaker": 2})
    task = adapter.submit(job, _inputs(media_url))
    assert task.stage == "generate"
    [detection] = sent.bodies("CVProcess")
    assert detection == {"req_key": DETECTION, "image_url": f"{media_url}/portrait.png"}
    [answer] = sent.answers("CVProcess")
    masks = json.loads(answer["data"]["resp_data"])["object_detection_result"]["mask"]["url"]
    [video] = sent.bodies("CVSubmitTask")
    assert video["mask_url"] == [masks[1]]
    mask_url = masks[1]
    assert mask_url.startswith(f"{adapter.api.base_url}/_simulator/volcengine/masks/")
    mask = httpx.get(mask_url, trust_env=False)
    assert (mask.status_code, mask.headers["content-type"]) == (200, "image/png")
    with Image.open(io.BytesIO(mask.content)) as image:
        assert image.mode == "L"
    tampered = mask_url.replace("signature=", "signature=0")
    assert httpx.get(tampered, trust_env=False).status_code == 403


def _detect(simulator: ProviderSimulator, media_url: str) -> list[str]:
    response = _signed_post(simulator, "CVProcess", {"req_key": DETECTION, "image_url": f"{media_url}/portrait.png"})
    assert response.status_code == 200, response.text
    result = json.loads(response.json()["data"]["resp_data"])
    assert (result["code"], result["status"]) == (0, 1)
    urls: list[str] = result["object_detection_result"]["mask"]["url"]
    return urls


def _mask_area(url: str) -> int:
    response = httpx.get(url, trust_env=False)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as image:
        return image.width * image.height - image.histogram()[0]


def test_masks_come_largest_first_and_expire(simulator: ProviderSimulator, admin: httpx.Client, media_url: str) -> None:
    first, second = _detect(simulator, media_url)
    assert _mask_area(first) > _mask_area(second) > 0
    admin.post("/_simulator/settings", json={"result_url_ttl_seconds": 0})
    expired = httpx.get(_detect(simulator, media_url)[0], trust_env=False)
    assert expired.status_code == 403, "expired like the result files"
    assert "Request has expired" in expired.text


def test_too_few_subjects_for_the_speaker(adapter: volcengine.VolcengineAdapter, media_url: str, sent: Sent) -> None:
    with pytest.raises(InvalidMedia) as caught:
        adapter.submit(_job(options={"speaker": 3}), _inputs(media_url))
    assert "found 2 subject(s)" in _cause(caught.value)
    assert sent.bodies("CVSubmitTask") == []


def test_audio_of_60_seconds_or_more_fails_at_query_with_50215(
    adapter: volcengine.VolcengineAdapter, media_url: str
) -> None:
    job = _job()
    with pytest.raises(InvalidMedia) as caught:
        _run(adapter, job, _inputs(media_url, audio="long.wav"))
    cause = _cause(caught.value)
    assert "answered code 50215 (Input invalid for this service.; request_id " in cause


def test_undecodable_image_fails_as_invalid_media(adapter: volcengine.VolcengineAdapter, media_url: str) -> None:
    with pytest.raises(InvalidMedia) as caught:
        _run(adapter, _job(), _inputs(media_url, image="garbage.png"))
    assert "image could not be decoded" in _cause(caught.value)


# --- authentication -------------------------------------------------------------------------------


def test_requests_signed_by_the_official_sdk_are_accepted(simulator: ProviderSimulator) -> None:
    response = _signed_post(simulator, "CVGetResult", {"req_key": VIDEO, "task_id": "12345"})
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert (envelope["code"], envelope["message"], envelope["status"]) == (10000, "Success", 10000)
    assert envelope["data"] == {"status": "not_found"}
    assert len(envelope["request_id"]) == 34
    assert envelope["time_elapsed"].endswith("ms")


def test_a_wrong_secret_is_rejected(
    adapter: volcengine.VolcengineAdapter, media_url: str, secret: dict[str, str]
) -> None:
    secret["secret_access_key"] = "wrong-secret"
    with pytest.raises(ProviderRejected) as caught:
        adapter.submit(_job(), _inputs(media_url))
    cause = _cause(caught.value)
    assert "answered HTTP 401 SignatureDoesNotMatch" in cause
    assert "check the volcengine access key in the provider secret" in cause


def test_an_unknown_access_key_is_rejected(
    adapter: volcengine.VolcengineAdapter, media_url: str, secret: dict[str, str]
) -> None:
    secret["access_key_id"] = "AKLTsomeoneelse"
    with pytest.raises(ProviderRejected, match="HTTP 401 InvalidAccessKey"):
        adapter.submit(_job(), _inputs(media_url))


def _tampered(simulator: ProviderSimulator, change: str) -> httpx.Request:
    body = json.dumps({"req_key": VIDEO, "task_id": "1"}).encode()
    url = f"{simulator.url}/?Action=CVGetResult&Version=2022-08-31"
    now = datetime.now(UTC) - (timedelta(minutes=20) if change == "old-date" else timedelta())
    region = "cn-beijing" if change == "region" else "cn-north-1"
    headers = sign_request("POST", url, {"Content-Type": "application/json"}, body, AK, SK, now=now, region=region)
    if change == "missing":
        del headers["Authorization"]
    if change == "malformed":
        headers["Authorization"] = "Bearer " + SK
    if change == "body":
        body = body.replace(b'"1"', b'"2"')
    if change == "content-sha":
        body = body.replace(b'"1"', b'"2"')
        headers["X-Content-Sha256"] = hashlib.sha256(body).hexdigest()
    if change == "query":
        url += "&Extra=1"
    if change == "content-type":
        headers["Content-Type"] = "text/plain"
    return httpx.Request("POST", url, content=body, headers=headers)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("missing", 401, "MissingAuthenticationToken"),
        ("malformed", 400, "InvalidAuthorization"),
        ("old-date", 400, "InvalidTimestamp"),
        ("region", 401, "SignatureDoesNotMatch"),
        ("body", 401, "SignatureDoesNotMatch"),
        ("content-sha", 401, "SignatureDoesNotMatch"),
        ("query", 401, "SignatureDoesNotMatch"),
        ("content-type", 401, "SignatureDoesNotMatch"),
    ],
)
def test_bad_signatures_get_gateway_errors(simulator: ProviderSimulator, change: str, status: int, code: str) -> None:
    with httpx.Client(trust_env=False) as client:
        response = client.send(_tampered(simulator, change))
    assert response.status_code == status
    metadata = response.json()["ResponseMetadata"]
    assert metadata["Error"]["Code"] == code
    assert (metadata["Action"], metadata["Version"], metadata["Service"], metadata["Region"]) == (
        "CVGetResult",
        "2022-08-31",
        "cv",
        "cn-north-1",
    )
    assert SK not in response.text


@pytest.mark.parametrize(("action", "version"), [("CVSubmitTaskX", "2022-08-31"), ("CVSubmitTask", "2024-06-06")])
def test_unknown_action_or_version(simulator: ProviderSimulator, action: str, version: str) -> None:
    response = _signed_post(simulator, action, {}, version=version)
    assert response.status_code == 404
    assert response.json()["ResponseMetadata"]["Error"]["Code"] == "InvalidActionOrVersion"


# --- parameters -----------------------------------------------------------------------------------


def _video_body(media_url: str, **changes: Any) -> dict[str, Any]:
    body = {"req_key": VIDEO, "image_url": f"{media_url}/portrait.png", "audio_url": f"{media_url}/voice.wav"}
    return {key: value for key, value in {**body, **changes}.items() if value is not None}


@pytest.mark.parametrize(
    ("action", "changes", "message"),
    [
        ("CVSubmitTask", {"imageurl": "https://x/a.png"}, "unknown field: imageurl"),
        ("CVSubmitTask", {"image_url": None}, "image_url is required"),
        ("CVSubmitTask", {"audio_url": 5}, "audio_url must be a string"),
        ("CVSubmitTask", {"image_url": "data:image/png;base64,iVBORw0KGgo="}, "image_url must be an http(s) URL"),
        ("CVSubmitTask", {"audio_url": "s3://bucket/voice.wav"}, "audio_url must be an http(s) URL"),
        ("CVSubmitTask", {"output_resolution": 480}, "output_resolution must be 720 or 1080"),
        ("CVSubmitTask", {"output_resolution": "720"}, "output_resolution must be 720 or 1080"),
        ("CVSubmitTask", {"pe_fast_mode": "yes"}, "pe_fast_mode must be a boolean"),
        ("CVSubmitTask", {"seed": True}, "seed must be an integer"),
        ("CVSubmitTask", {"prompt": ["hi"]}, "prompt must be a string"),
        ("CVSubmitTask", {"mask_url": "https://x/m.png"}, "mask_url must be a list"),
        ("CVSubmitTask", {"mask_url": ["ftp://x/m.png"]}, "mask_url must be an http(s) URL"),
        ("CVSubmitTask", {"req_key": "jimeng_unknown"}, "req_key 'jimeng_unknown' is not supported"),
        ("CVProcess", {"req_key": DETECTION, "audio_url": None, "mask": 1}, "unknown field: mask"),
        ("CVGetResult", {"req_key": VIDEO, "task_id": 12}, "task_id must be a non-empty string"),
        ("CVGetResult", {"req_key": DETECTION, "task_id": "1"}, "is not supported by CVGetResult"),
        ("CVGetResult", {"req_key": VIDEO, "task_id": "1", "req_json": "{"}, "req_json is not valid JSON"),
        ("CVGetResult", {"req_key": VIDEO, "task_id": "1", "req_json": {"aigc_meta": {}}}, "must be a JSON string"),
        (
            "CVGetResult",
            {"req_key": VIDEO, "task_id": "1", "req_json": json.dumps({"aigc_meta": {"producer_id": "p" * 257}})},
            "req_json.aigc_meta.producer_id must be a string of at most 256 characters",
        ),
        (
            "CVGetResult",
            {"req_key": VIDEO, "task_id": "1", "req_json": json.dumps({"aigc_meta": {"producer": "p"}})},
            "unknown field: producer",
        ),
    ],
)
def test_bad_parameters_are_refused_with_50200(
    simulator: ProviderSimulator, media_url: str, action: str, changes: dict[str, Any], message: str
) -> None:
    body = _video_body(media_url, **changes) if action != "CVGetResult" else changes
    response = _signed_post(simulator, action, body)
    assert response.status_code == 400, response.text
    envelope = response.json()
    assert (envelope["code"], envelope["status"], envelope["data"]) == (50200, 50200, None)
    assert message in envelope["message"]


def test_a_body_that_is_not_a_json_object_is_refused(simulator: ProviderSimulator) -> None:
    response = _signed_post(simulator, "CVSubmitTask", [1, 2])
    assert (response.status_code, response.json()["code"]) == (400, 50200)


def test_unknown_task_is_not_found(adapter: volcengine.VolcengineAdapter) -> None:
    with pytest.raises(ProviderTaskFailed) as caught:
        adapter.check(_job(), TaskRef("123456789"))
    assert _cause(caught.value) == "volcengine task 123456789 not found: it never existed or is older than 12 h"


# --- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "extra", "error", "fragment"),
    [
        ("throttle", {}, ProviderThrottled, "code 50429"),
        ("concurrency", {}, ProviderThrottled, "code 50430"),
        ("server_error", {}, ProviderUnavailable, "code 50500"),
        ("server_error", {"status": 503}, ProviderUnavailable, "code 50500"),
        ("moderation", {}, ProviderRejected, "code 50411 (Pre Img Risk Not Pass"),
        ("moderation", {"code": 50514}, ProviderRejected, "code 50514 (Pre Audio Risk Not Pass"),
        ("moderation", {"code": 50215}, InvalidMedia, "code 50215"),
    ],
)
def test_submit_faults(
    adapter: volcengine.VolcengineAdapter,
    admin: httpx.Client,
    media_url: str,
    fault: str,
    extra: dict[str, Any],
    error: type[PipelineError],
    fragment: str,
) -> None:
    _add_fault(admin, "submit", fault, **extra)
    with pytest.raises(PipelineError) as caught:
        adapter.submit(_job(), _inputs(media_url))
    assert type(caught.value) is error
    assert fragment in _cause(caught.value)
    assert admin.get("/_simulator/stats").json()["submissions"] == []
    assert adapter.submit(_job(), _inputs(media_url)).stage == "generate", "the fault is used up"


def test_a_submit_cut_off_after_it_went_out_is_an_unknown_outcome(
    adapter: volcengine.VolcengineAdapter, admin: httpx.Client, media_url: str
) -> None:
    """The connection dropped after the request went out: the task may exist, so the core must not resubmit."""
    _add_fault(admin, "submit", "reset")
    with pytest.raises(SubmitOutcomeUnknown, match="it may have created the task"):
        adapter.submit(_job(), _inputs(media_url))


@pytest.mark.parametrize(
    ("fault", "extra", "error", "fragment"),
    [
        ("throttle", {}, ProviderThrottled, "code 50429"),
        ("concurrency", {}, ProviderThrottled, "code 50430"),
        ("server_error", {"status": 502}, ProviderUnavailable, "code 50500"),
        ("moderation", {"code": 50413}, ProviderRejected, "code 50413 (Post Text Risk Not Pass"),
        ("not_found", {}, ProviderTaskFailed, "not found: it never existed or is older than 12 h"),
        ("expired", {}, ProviderTaskFailed, "expired at the provider; resubmit the job with a new job_id"),
    ],
)
def test_result_faults(
    adapter: volcengine.VolcengineAdapter,
    admin: httpx.Client,
    media_url: str,
    fault: str,
    extra: dict[str, Any],
    error: type[PipelineError],
    fragment: str,
) -> None:
    job = _job()
    task = adapter.submit(job, _inputs(media_url))
    _add_fault(admin, "result", fault, **extra)
    with pytest.raises(PipelineError) as caught:
        adapter.check(job, task)
    assert type(caught.value) is error
    assert fragment in _cause(caught.value)


@pytest.mark.parametrize(
    ("extra", "error", "fragment"),
    [
        ({}, ProviderUnavailable, "code 50501 (Internal RPC Error"),
        ({"code": 50413}, ProviderRejected, "code 50413 (Post Text Risk Not Pass"),
        ({"code": 50511}, ProviderUnavailable, "code 50511 (Post Img Risk Not Pass"),
    ],
)
def test_task_failed_fault(
    adapter: volcengine.VolcengineAdapter,
    admin: httpx.Client,
    media_url: str,
    extra: dict[str, Any],
    error: type[PipelineError],
    fragment: str,
) -> None:
    _add_fault(admin, "submit", "task_failed", **extra)
    with pytest.raises(PipelineError) as caught:
        _run(adapter, _job(), _inputs(media_url))
    assert type(caught.value) is error
    assert fragment in _cause(caught.value)


def test_expired_url_fault(adapter: volcengine.VolcengineAdapter, admin: httpx.Client, media_url: str) -> None:
    job = _job()
    task = _run(adapter, job, _inputs(media_url))
    _add_fault(admin, "result", "expired_url")
    assert httpx.get(adapter.result(job, task).url, trust_env=False).status_code == 403
    assert httpx.get(adapter.result(job, task).url, trust_env=False).status_code == 200


def test_no_subject_fault(adapter: volcengine.VolcengineAdapter, admin: httpx.Client, media_url: str) -> None:
    _add_fault(admin, "submit", "no_subject")
    with pytest.raises(InvalidMedia) as caught:
        _run(adapter, _job(options={"check_subject": True}), _inputs(media_url))
    assert _cause(caught.value) == (
        "image s3://in/portrait.png has no recognisable subject (volcengine subject recognition)"
    )
    assert [entry["model"] for entry in admin.get("/_simulator/stats").json()["submissions"]] == [SUBJECT]


def test_no_subject_fault_on_detection(
    adapter: volcengine.VolcengineAdapter, admin: httpx.Client, media_url: str
) -> None:
    _add_fault(admin, "submit", "no_subject")
    with pytest.raises(InvalidMedia, match="found 0 subject"):
        adapter.submit(_job(options={"speaker": 1}), _inputs(media_url))


def test_truncated_download_fault_applies_to_volcengine_videos(
    adapter: volcengine.VolcengineAdapter, admin: httpx.Client, media_url: str
) -> None:
    job = _job()
    url = adapter.result(job, _run(adapter, job, _inputs(media_url))).url
    _add_fault(admin, "download", "truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url, trust_env=False)


@pytest.mark.parametrize(
    "spec",
    [
        {"operation": "submit", "fault": "throttle", "code": 50429},
        {"operation": "submit", "fault": "moderation", "code": 200},
        {"operation": "submit", "fault": "moderation", "code": "50411"},
        {"operation": "result", "fault": "no_subject"},
        {"operation": "submit", "fault": "not_found"},
        {"operation": "download", "fault": "concurrency"},
        {"provider": "wavespeed", "operation": "submit", "fault": "task_failed", "code": 50501},
        {"provider": "wavespeed", "operation": "submit", "fault": "moderation"},
    ],
)
def test_invalid_volcengine_fault_specs(admin: httpx.Client, spec: dict[str, Any]) -> None:
    response = admin.post("/_simulator/faults", json={"provider": "volcengine", **spec})
    assert response.status_code == 400, response.text
    assert response.json()["error"]


def test_fault_listing_shows_the_code(admin: httpx.Client) -> None:
    _add_fault(admin, "submit", "task_failed", code=50413)
    [pending] = admin.get("/_simulator/faults").json()["faults"]
    assert (pending["provider"], pending["kind"], pending["code"]) == ("volcengine", "task_failed", 50413)


# --- the echo fault -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "status", "code"),
    [
        ("submit", None, "SignatureDoesNotMatch"),
        ("submit", 403, "AccessDenied"),
        ("result", 401, "SignatureDoesNotMatch"),
    ],
)
def test_echo_fault_answers_a_gateway_error_quoting_the_request(
    simulator: ProviderSimulator, admin: httpx.Client, media_url: str, operation: str, status: int | None, code: str
) -> None:
    _add_fault(admin, operation, "echo", **({} if status is None else {"status": status}))
    action = "CVSubmitTask" if operation == "submit" else "CVGetResult"
    body = {"req_key": VIDEO, "image_url": f"{media_url}/portrait.png", "audio_url": f"{media_url}/voice.wav"}
    response = _signed_post(simulator, action, body)
    assert response.status_code == (status or 401)
    metadata = response.json()["ResponseMetadata"]
    assert (metadata["Action"], metadata["Error"]["Code"]) == (action, code)
    message = metadata["Error"]["Message"]
    for fragment in (f"POST /?Action={action}&Version=2022-08-31", '"X-Date": "', "HMAC-SHA256 Credential=" + AK):
        assert fragment in message
    assert json.dumps(body) in message
    assert admin.get("/_simulator/stats").json()["submissions"] == []
    assert admin.get("/_simulator/faults").json() == {"faults": []}, "the fault is used up"


def test_echo_fault_with_400_answers_bad_parameters_quoting_the_request(
    simulator: ProviderSimulator, admin: httpx.Client, media_url: str
) -> None:
    _add_fault(admin, "result", "echo", status=400)
    response = _signed_post(simulator, "CVGetResult", {"req_key": VIDEO, "task_id": "7012345678901234567"})
    assert response.status_code == 400
    envelope = response.json()
    assert (envelope["code"], envelope["data"]) == (50200, None)
    assert envelope["message"].startswith("Invalid Parameter: Bad Request; the request as received: POST /?Action=")
    assert '"task_id": "7012345678901234567"' in envelope["message"]
    assert '"Authorization": "HMAC-SHA256 Credential=' in envelope["message"]


@pytest.mark.parametrize(("operation", "status"), [("submit", 401), ("submit", 400), ("submit", 403), ("result", 401)])
def test_the_adapter_facing_an_echo_keeps_keys_and_signatures_out_of_the_cause(
    adapter: volcengine.VolcengineAdapter, admin: httpx.Client, media_url: str, sent: Sent, operation: str, status: int
) -> None:
    signed = "X-Amz-Credential=ASIAY34FZKBOKMUTVV7A&X-Amz-Signature=5d41402abc4b2a76b9719d911017c592"
    inputs = _inputs(media_url, f"portrait.png?{signed}", f"voice.wav?{signed}")
    _add_fault(admin, operation, "echo", status=status)
    with pytest.raises(ProviderRejected) as caught:
        _submit_or_query(adapter, operation, inputs, TaskRef("7012345678901234567", "generate"))
    cause = _cause(caught.value)
    [answer] = [body for _, body in sent.responses]
    echoed = json.dumps(answer)
    for secret in (AK, SK, "ASIAY34FZKBOKMUTVV7A", "5d41402abc4b2a76b9719d911017c592"):
        assert secret not in cause
    assert AK in echoed, "the simulator did echo the access key"
    if operation == "submit":
        assert "5d41402abc4b2a76b9719d911017c592" in echoed, "and the presigned inputs"
        assert f"{media_url}/portrait.png?[redacted]" in cause


def _submit_or_query(
    adapter: volcengine.VolcengineAdapter, operation: str, inputs: PresignedInputs, task: TaskRef
) -> None:
    if operation == "submit":
        adapter.submit(_job(), inputs)
    else:
        adapter.result(_job(), task)
