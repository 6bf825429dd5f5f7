"""The Volcengine OmniHuman 1.5 adapter against a mocked HTTP API (respx): requests, envelopes, codes, flows."""

import json
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from avatar_pipeline.capabilities import VOLCENGINE_OMNIHUMAN_15
from avatar_pipeline.errors import (
    InvalidMedia,
    InvalidRequest,
    PipelineError,
    ProviderRejected,
    ProviderTaskFailed,
    ProviderThrottled,
    ProviderUnavailable,
    ResultUnavailable,
)
from avatar_pipeline.models import Job
from avatar_pipeline.providers import volcengine
from avatar_pipeline.providers.base import PresignedInputs, ResultLocation, TaskCheck, TaskRef
from avatar_pipeline.providers.classify import SubmitOutcomeUnknown
from avatar_pipeline.redaction import register_document
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:provider"
BASE_URL = "https://visual.volcengine.test"
HOST = "visual.volcengine.test"
AK = "AKLTexampleaccesskey0123456789"
SK = "c2VjcmV0LXZvbGNlbmdpbmUta2V5LTAxMjM0NTY3ODk="
TASK = "7392616336519610409"
SUBJECT_TASK = "7392616336519610001"
VIDEO_URL = "https://cdn.volcengine.test/video/out.mp4?x-expires=1"
INPUTS = PresignedInputs(
    image_url="https://in.test/a.png?sig=1",
    audio_url="https://in.test/a.wav?sig=2",
    presign=lambda uri: "https://in.test/" + uri.removeprefix("s3://") + "?sig=p" if uri.startswith("s3://") else uri,
)
AIGC_META = {"producer_id": "producer-1", "content_propagator": "propagator-9"}
REQUEST_ID = "20250617184605554C9B78D23B0BAB45B2A"


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def fake(secret_arn: str, section: str) -> dict[str, Any]:
        asked.append(section)
        entry = {"access_key_id": AK, "secret_access_key": SK}
        register_document(entry)  # as reading the real secret does (credentials.py)
        return entry

    monkeypatch.setattr(volcengine, "provider_credentials", fake)
    return asked


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
def adapter() -> Iterator[volcengine.VolcengineAdapter]:
    with httpx.Client() as client:
        yield volcengine.VolcengineAdapter(VOLCENGINE_OMNIHUMAN_15, BASE_URL + "/", client, SECRET_ARN)


def _job(**request: Any) -> Job:
    return Job.model_validate(
        {
            "job_id": "j-1",
            "provider": "volcengine/omnihuman-1.5",
            "image": {"s3": {"bucket": "in", "key": "a.png"}},
            "audio": {"s3": {"bucket": "in", "key": "a.wav"}},
            "request": {"image": "a.png", "audio": "a.wav", **request},
            "trigger": "console",
            "requested_at": datetime(2025, 3, 1, tzinfo=UTC),
        }
    )


def ok(data: Any) -> dict[str, Any]:
    return {
        "code": 10000,
        "data": data,
        "message": "Success",
        "request_id": REQUEST_ID,
        "status": 10000,
        "time_elapsed": "104.852309ms",
    }


def failure(code: int, message: str = "something") -> dict[str, Any]:
    return {
        "code": code,
        "data": None,
        "message": message,
        "request_id": REQUEST_ID,
        "status": code,
        "time_elapsed": "36.799829ms",
    }


def gateway(code: str, message: str = "refused", action: str = "CVSubmitTask") -> dict[str, Any]:
    return {
        "ResponseMetadata": {
            "RequestId": REQUEST_ID,
            "Action": action,
            "Version": "2022-08-31",
            "Service": "cv",
            "Region": "cn-north-1",
            "Error": {"Code": code, "Message": message},
        }
    }


def status(value: str, **data: Any) -> dict[str, Any]:
    return ok({"status": value, **data})


def _route(api: respx.MockRouter, action: str) -> respx.Route:
    return api.post("/", params={"Action": action, "Version": "2022-08-31"})


def _body(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


def _cause(error: PipelineError) -> str:
    for text in (error.cause, str(error)):
        assert SK not in text, "the secret key must never appear in a cause"
        assert "HMAC-SHA256 Credential" not in text, "the Authorization header must never appear in a cause"
    return error.cause


def _sdk_authorization(request: httpx.Request) -> str:
    """What the official SDK signs for the same request at the same X-Date."""
    param = SignParam()
    param.set_method(request.method)
    param.set_host(HOST)
    param.set_path("/")
    param.set_body(request.content)
    param.set_query(OrderedDict(request.url.params.multi_items()))
    param.set_date(datetime.strptime(request.headers["X-Date"], "%Y%m%dT%H%M%SZ"))
    param.set_header_list(OrderedDict([("Content-Type", "application/json"), ("Host", HOST)]))
    return str(SignerV4.sign_only(param, Credentials(AK, SK, "cv", "cn-north-1")).authorization)


# --- submit ---------------------------------------------------------------------------------------


def test_submit_posts_a_signed_documented_request(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, credentials: list[str]
) -> None:
    route = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    assert adapter.submit(_job(), INPUTS) == TaskRef(TASK, "generate")
    request = route.calls.last.request
    assert str(request.url) == f"{BASE_URL}/?Action=CVSubmitTask&Version=2022-08-31"
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Host"] == HOST
    assert request.headers["Authorization"] == _sdk_authorization(request)
    assert request.headers["Authorization"].startswith(f"HMAC-SHA256 Credential={AK}/")
    assert "SignedHeaders=content-type;host;x-content-sha256;x-date," in request.headers["Authorization"]
    assert json.loads(request.content) == {
        "req_key": "jimeng_realman_avatar_picture_omni_v15",
        "image_url": INPUTS.image_url,
        "audio_url": INPUTS.audio_url,
        "output_resolution": 1080,
        "pe_fast_mode": False,
    }
    assert credentials == ["volcengine"]


def test_prompt_and_seed_are_sent_as_utf8_json(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    route = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    adapter.submit(_job(prompt="她微笑着说话 — slow push-in", seed=42), INPUTS)
    request = route.calls.last.request
    assert "她微笑着说话".encode() in request.content, "non-ASCII text goes out as UTF-8, not \\u escapes"
    assert _body(route)["prompt"] == "她微笑着说话 — slow push-in"
    assert _body(route)["seed"] == 42
    assert request.headers["Authorization"] == _sdk_authorization(request)


def test_seed_minus_one_is_sent_and_an_empty_prompt_is_not(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter
) -> None:
    route = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    adapter.submit(_job(seed=-1, prompt=""), INPUTS)
    assert _body(route)["seed"] == -1
    assert "prompt" not in _body(route)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, (1080, False)),
        ({"output_resolution": 720}, (720, True)),
        ({"output_resolution": 1080}, (1080, False)),
        ({"pe_fast_mode": True}, (720, True)),
        ({"pe_fast_mode": False}, (1080, False)),
        ({"output_resolution": 1080, "pe_fast_mode": True}, (1080, True)),
        ({"output_resolution": 720, "pe_fast_mode": False}, (720, False)),
    ],
)
def test_quality_is_always_sent_as_the_documented_pairing(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, options: dict[str, Any], expected: tuple[int, bool]
) -> None:
    route = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    adapter.submit(_job(options=options), INPUTS)
    body = _body(route)
    assert (body["output_resolution"], body["pe_fast_mode"]) == expected


def test_mask_urls_are_presigned(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    route = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    adapter.submit(_job(options={"mask_url": ["s3://in/masks/1.png", "https://masks.test/2.png"]}), INPUTS)
    assert _body(route)["mask_url"] == ["https://in.test/in/masks/1.png?sig=p", "https://masks.test/2.png"]


def test_a_numeric_task_id_is_read_as_a_string(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": 7392616336519610409}))
    assert adapter.submit(_job(), INPUTS) == TaskRef(TASK, "generate")


@pytest.mark.parametrize("data", [None, {}, {"task_id": ""}, {"task_id": None}], ids=["null", "empty", "blank", "none"])
def test_submit_without_a_task_id_is_unavailable(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, data: Any
) -> None:
    _route(api, "CVSubmitTask").respond(200, json=ok(data))
    with pytest.raises(ProviderUnavailable, match="task_id"):
        adapter.submit(_job(), INPUTS)


def test_submit_without_audio_is_an_invalid_request(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter
) -> None:
    route = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    with pytest.raises(InvalidRequest, match="needs an audio"):
        adapter.submit(_job(), PresignedInputs(INPUTS.image_url, None, INPUTS.presign))
    assert not route.called


def test_invalid_options_are_an_invalid_request(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    with pytest.raises(InvalidRequest, match="invalid options"):
        adapter.submit(_job(options={"output_resolution": 480}), INPUTS)


@pytest.mark.parametrize(
    "entry",
    [{}, {"access_key_id": AK}, {"secret_access_key": SK}, {"access_key_id": "", "secret_access_key": SK}],
    ids=["empty", "no-secret", "no-access-key", "blank-access-key"],
)
def test_missing_credentials_are_rejected_before_any_request(
    monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, entry: dict[str, str]
) -> None:
    monkeypatch.setattr(volcengine, "provider_credentials", lambda secret_arn, section: entry)
    route = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    with pytest.raises(ProviderRejected, match=r"provider secret has no volcengine\."):
        adapter.submit(_job(), INPUTS)
    assert not route.called


# --- status ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider_status", ["in_queue", "generating", "processing"])
def test_running_statuses(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, provider_status: str) -> None:
    route = _route(api, "CVGetResult").respond(200, json=status(provider_status, video_url=""))
    check = adapter.check(_job(), TaskRef(TASK))
    assert check == TaskCheck(status="running", provider_status=provider_status)
    assert _body(route) == {"req_key": "jimeng_realman_avatar_picture_omni_v15", "task_id": TASK}
    assert route.calls.last.request.headers["Authorization"] == _sdk_authorization(route.calls.last.request)


def test_done_with_a_video_succeeds(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    _route(api, "CVGetResult").respond(200, json=status("done", video_url=VIDEO_URL, aigc_meta_tagged=False))
    assert adapter.check(_job(), TaskRef(TASK)) == TaskCheck("succeeded", "done")


def test_req_json_carries_aigc_meta_only_when_the_job_has_it(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter
) -> None:
    route = _route(api, "CVGetResult").respond(200, json=status("generating"))
    adapter.check(_job(), TaskRef(TASK))
    assert "req_json" not in _body(route)
    meta = {**AIGC_META, "content_producer": "生产者-1", "propagate_id": None}
    adapter.check(_job(aigc_meta=meta), TaskRef(TASK))
    req_json = _body(route)["req_json"]
    assert isinstance(req_json, str), "req_json is a serialized string"
    assert json.loads(req_json) == {"aigc_meta": {**AIGC_META, "content_producer": "生产者-1"}}


@pytest.mark.parametrize("data", [{"status": "done", "video_url": ""}, {"status": "done"}], ids=["blank", "absent"])
def test_done_without_a_video_is_a_failed_task(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, data: dict[str, Any]
) -> None:
    _route(api, "CVGetResult").respond(200, json=ok(data))
    with pytest.raises(ProviderTaskFailed) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert _cause(caught.value) == f"volcengine task {TASK} is done without a video_url"


@pytest.mark.parametrize(
    ("provider_status", "cause"),
    [
        ("not_found", f"volcengine task {TASK} not found: it never existed or is older than 12 h"),
        ("expired", f"volcengine task {TASK} expired at the provider; resubmit the job with a new job_id"),
        ("exploded", f"volcengine task {TASK} reported an unknown status 'exploded'"),
    ],
)
def test_final_statuses_without_a_video_fail_the_task(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, provider_status: str, cause: str
) -> None:
    route = _route(api, "CVGetResult").respond(200, json=status(provider_status))
    with pytest.raises(ProviderTaskFailed) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert _cause(caught.value) == cause
    assert route.call_count == 1, "never loops"


@pytest.mark.parametrize("data", [None, {}, {"status": ""}, "done"], ids=["null", "empty", "blank", "string"])
def test_unreadable_status_data_is_unavailable(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, data: Any
) -> None:
    _route(api, "CVGetResult").respond(200, json=ok(data))
    with pytest.raises(ProviderUnavailable, match="unreadable data"):
        adapter.check(_job(), TaskRef(TASK))


def test_an_unknown_stage_fails(adapter: volcengine.VolcengineAdapter) -> None:
    with pytest.raises(ProviderTaskFailed, match="unknown stage 'warp'"):
        adapter.check(_job(), TaskRef(TASK, "warp"))


# --- result ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("tagged", [True, False, None])
def test_result_returns_a_fresh_url_and_the_tagging_outcome(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, tagged: bool | None
) -> None:
    data: dict[str, Any] = {"video_url": VIDEO_URL} | ({} if tagged is None else {"aigc_meta_tagged": tagged})
    route = _route(api, "CVGetResult").respond(200, json=status("done", **data))
    job = _job(aigc_meta=AIGC_META)
    assert adapter.result(job, TaskRef(TASK)) == ResultLocation(VIDEO_URL, aigc_meta_tagged=tagged)
    assert adapter.result(job, TaskRef(TASK)).url == VIDEO_URL
    assert route.call_count == 2, "every call asks for a fresh URL"
    assert json.loads(_body(route)["req_json"]) == {"aigc_meta": AIGC_META}


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        ({"status": "generating"}, f"volcengine task {TASK} has no video (status generating)"),
        ({"status": "done", "video_url": ""}, f"volcengine task {TASK} has no video (status done)"),
        ({"status": "not_found"}, f"volcengine task {TASK} not found: it never existed or is older than 12 h"),
        ({"status": "expired"}, f"volcengine task {TASK} expired at the provider; resubmit the job with a new job_id"),
    ],
)
def test_result_without_a_video_is_unavailable(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, data: dict[str, Any], cause: str
) -> None:
    _route(api, "CVGetResult").respond(200, json=ok(data))
    with pytest.raises(ResultUnavailable) as caught:
        adapter.result(_job(), TaskRef(TASK))
    assert _cause(caught.value) == cause


def test_result_of_a_subject_check_is_unavailable(adapter: volcengine.VolcengineAdapter) -> None:
    with pytest.raises(ResultUnavailable, match="subject_check"):
        adapter.result(_job(), TaskRef(SUBJECT_TASK, "subject_check"))


def test_result_throttling_stays_retryable(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    _route(api, "CVGetResult").respond(429, json=failure(50429))
    with pytest.raises(ProviderThrottled):
        adapter.result(_job(), TaskRef(TASK))


# --- business codes -------------------------------------------------------------------------------

BUSINESS_CODES = [
    (50429, 429, "Request Has Reached API Limit, Please Try Later", ProviderThrottled, "QPS limit"),
    (50430, 429, "Request Has Reached API Concurrent Limit, Please Try Later", ProviderThrottled, "concurrency"),
    (50500, 500, "Internal Error", ProviderUnavailable, "internal error"),
    (50501, 500, "Internal RPC Error", ProviderUnavailable, "internal algorithm"),
    (50511, 400, "Post Img Risk Not Pass", ProviderUnavailable, "output image did not pass moderation"),
    (50411, 400, "Pre Img Risk Not Pass", ProviderRejected, "moderation, the input image"),
    (50412, 400, "Text Risk Not Pass", ProviderRejected, "moderation, the input text"),
    (50512, 400, "Post Text Risk Not Pass", ProviderRejected, "moderation, the output text"),
    (50513, 400, "Pre Video Risk Not Pass", ProviderRejected, "moderation, the input video"),
    (50514, 400, "Pre Audio Risk Not Pass", ProviderRejected, "moderation, the input audio"),
    (50413, 400, "Post Text Risk Not Pass", ProviderRejected, "sensitive or copyrighted words"),
    (50215, 400, "Input invalid for this service.", InvalidMedia, "60 s or more"),
    (50200, 400, "Invalid Parameter", ProviderRejected, "request parameters were refused"),
    (50400, 400, "Access Denied", ProviderRejected, "check the volcengine access key in the provider secret"),
    (50402, 400, "API Not Found", ProviderRejected, "not enabled for this account"),
    (50599, 500, "Mystery", ProviderUnavailable, "unknown server-side code"),
    (50777, 400, "Mystery", ProviderUnavailable, "unknown server-side code"),
    (50299, 400, "Mystery", ProviderRejected, "unknown code"),
    (10001, 200, "Mystery", ProviderRejected, "unknown code"),
]


@pytest.mark.parametrize(
    ("code", "http_status", "message", "error", "fragment"),
    BUSINESS_CODES,
    ids=[str(row[0]) for row in BUSINESS_CODES],
)
@pytest.mark.parametrize("operation", ["submit", "check"])
def test_business_codes_map_to_contract_errors(
    api: respx.MockRouter,
    adapter: volcengine.VolcengineAdapter,
    operation: str,
    code: int,
    http_status: int,
    message: str,
    error: type[PipelineError],
    fragment: str,
) -> None:
    action = "CVSubmitTask" if operation == "submit" else "CVGetResult"
    _route(api, action).respond(http_status, json=failure(code, message))
    call = (
        (lambda: adapter.submit(_job(), INPUTS))
        if operation == "submit"
        else (lambda: adapter.check(_job(), TaskRef(TASK)))
    )
    with pytest.raises(PipelineError) as caught:
        call()
    assert type(caught.value) is error
    cause = _cause(caught.value)
    what = "submit" if operation == "submit" else "status query"
    assert cause.startswith(f"volcengine {what} answered code {code} ({message}; request_id {REQUEST_ID}): ")
    assert fragment in cause


def test_a_business_error_with_http_200_is_still_an_error(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter
) -> None:
    _route(api, "CVGetResult").respond(200, json=failure(50413, "Post Text Risk Not Pass"))
    with pytest.raises(ProviderRejected, match="50413"):
        adapter.check(_job(), TaskRef(TASK))


def test_a_business_error_without_request_id_or_message(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter
) -> None:
    _route(api, "CVSubmitTask").respond(500, json={"code": 50500, "data": None})
    with pytest.raises(ProviderUnavailable) as caught:
        adapter.submit(_job(), INPUTS)
    assert _cause(caught.value).startswith("volcengine submit answered code 50500 (no message; no request_id)")


# --- gateway errors -------------------------------------------------------------------------------

GATEWAY_ERRORS = [
    (401, "SignatureDoesNotMatch", ProviderRejected, "provider secret"),
    (401, "InvalidAccessKey", ProviderRejected, "provider secret"),
    (400, "InvalidAuthorization", ProviderRejected, "provider secret"),
    (401, "MissingAuthenticationToken", ProviderRejected, "provider secret"),
    (400, "InvalidCredential", ProviderRejected, "provider secret"),
    (403, "AccessDenied", ProviderRejected, "provider secret"),
    (403, "SomethingNew", ProviderRejected, "provider secret"),
    (400, "InvalidTimestamp", ProviderRejected, "clock"),
    (404, "InvalidActionOrVersion", ProviderRejected, "InvalidActionOrVersion"),
    (400, "MissingParameter", ProviderRejected, "MissingParameter"),
    (429, "FlowLimitExceeded", ProviderThrottled, "FlowLimitExceeded"),
    (400, "RequestLimitExceeded", ProviderThrottled, "RequestLimitExceeded"),
    (403, "Throttling.User", ProviderThrottled, "Throttling"),
    (429, "SomethingNew", ProviderThrottled, "SomethingNew"),
    (500, "InternalError", ProviderUnavailable, "InternalError"),
    (503, "ServiceUnavailableTemp", ProviderUnavailable, "ServiceUnavailableTemp"),
]


@pytest.mark.parametrize(
    ("http_status", "code", "error", "fragment"), GATEWAY_ERRORS, ids=[f"{r[0]}-{r[1]}" for r in GATEWAY_ERRORS]
)
def test_gateway_errors_map_to_contract_errors(
    api: respx.MockRouter,
    adapter: volcengine.VolcengineAdapter,
    http_status: int,
    code: str,
    error: type[PipelineError],
    fragment: str,
) -> None:
    _route(api, "CVSubmitTask").respond(http_status, json=gateway(code, "the gateway says no"))
    with pytest.raises(PipelineError) as caught:
        adapter.submit(_job(), INPUTS)
    assert type(caught.value) is error
    cause = _cause(caught.value)
    assert cause.startswith(f"volcengine submit answered HTTP {http_status} {code}: the gateway says no ")
    assert f"request_id {REQUEST_ID}" in cause
    assert fragment in cause


@pytest.mark.parametrize(("http_status", "code"), [(502, "InternalServiceError"), (504, "InternalServiceTimeout")])
def test_a_gateway_that_lost_a_submits_answer_is_an_unknown_outcome(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, http_status: int, code: str
) -> None:
    """The task may have been created behind the gateway: the submission core must not send it again blindly."""
    _route(api, "CVSubmitTask").respond(http_status, json=gateway(code, "upstream"))
    with pytest.raises(SubmitOutcomeUnknown, match=f"HTTP {http_status}"):
        adapter.submit(_job(), INPUTS)
    _route(api, "CVGetResult").respond(http_status, json=gateway(code, "upstream"))
    with pytest.raises(ProviderUnavailable):
        adapter.check(_job(), TaskRef(TASK))


def test_gateway_messages_echoing_secrets_are_redacted(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        authorization = request.headers["Authorization"]
        signature = authorization.rpartition("Signature=")[2]
        message = f"expected key {SK}; got {authorization}; signature {signature}"
        return httpx.Response(401, json=gateway("SignatureDoesNotMatch", message))

    _route(api, "CVSubmitTask").mock(side_effect=echo)
    with pytest.raises(ProviderRejected) as caught:
        adapter.submit(_job(), INPUTS)
    cause = _cause(caught.value)
    assert "[redacted]" in cause
    assert "Signature=" not in cause


def test_business_messages_echoing_secrets_are_redacted(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter
) -> None:
    _route(api, "CVSubmitTask").respond(400, json=failure(50400, f"bad secret {SK}"))
    with pytest.raises(ProviderRejected) as caught:
        adapter.submit(_job(), INPUTS)
    assert "bad secret [redacted]" in _cause(caught.value)


@pytest.mark.parametrize(
    ("http_status", "content", "error"),
    [
        (503, b"<html>Service Unavailable</html>", ProviderUnavailable),
        (429, b"Too Many Requests", ProviderThrottled),
        (403, b"Forbidden", ProviderRejected),
        (404, b"", ProviderRejected),
        (200, b"not json", ProviderUnavailable),
        (200, b"[1, 2]", ProviderUnavailable),
        (200, b'{"message": "no code"}', ProviderUnavailable),
    ],
)
def test_responses_without_an_envelope(
    api: respx.MockRouter,
    adapter: volcengine.VolcengineAdapter,
    http_status: int,
    content: bytes,
    error: type[PipelineError],
) -> None:
    _route(api, "CVSubmitTask").respond(http_status, content=content)
    with pytest.raises(PipelineError) as caught:
        adapter.submit(_job(), INPUTS)
    assert type(caught.value) is error
    assert f"answered HTTP {http_status} without a readable envelope" in _cause(caught.value)


@pytest.mark.parametrize(
    ("side_effect", "fragment"),
    [(httpx.ConnectTimeout("slow"), "timed out"), (httpx.ConnectError("refused"), "failed: ConnectError")],
)
def test_transport_errors_are_unavailable(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, side_effect: Exception, fragment: str
) -> None:
    _route(api, "CVGetResult").mock(side_effect=side_effect)
    with pytest.raises(ProviderUnavailable) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert _cause(caught.value).startswith(f"volcengine status query {fragment}")


# --- subject recognition --------------------------------------------------------------------------


def test_check_subject_submits_recognition_first(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    route = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": SUBJECT_TASK}))
    assert adapter.submit(_job(options={"check_subject": True}), INPUTS) == TaskRef(SUBJECT_TASK, "subject_check")
    assert _body(route) == {
        "req_key": "jimeng_realman_avatar_picture_create_role_omni_v15",
        "image_url": INPUTS.image_url,
    }


@pytest.mark.parametrize("provider_status", ["in_queue", "generating", "processing"])
def test_subject_check_running(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, provider_status: str
) -> None:
    route = _route(api, "CVGetResult").respond(200, json=status(provider_status, resp_data=""))
    check = adapter.check(_job(options={"check_subject": True}), TaskRef(SUBJECT_TASK, "subject_check"))
    assert check == TaskCheck("running", provider_status)
    assert _body(route) == {"req_key": "jimeng_realman_avatar_picture_create_role_omni_v15", "task_id": SUBJECT_TASK}


@pytest.mark.parametrize("resp_data", ['{"status": 1}', {"status": 1}], ids=["string", "object"])
def test_a_recognised_subject_asks_for_the_video_stage(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, resp_data: Any
) -> None:
    """The adapter does not pay for the video itself: the submission core creates it through the ledger."""
    _route(api, "CVGetResult").respond(200, json=status("done", resp_data=resp_data))
    submit = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    job = _job(options={"check_subject": True, "output_resolution": 720}, seed=7)
    check = adapter.check(job, TaskRef(SUBJECT_TASK, "subject_check"))
    assert check == TaskCheck("running", "done", next_stage="generate")
    assert not submit.called


def test_the_video_stage_is_submitted_with_the_inputs_given(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter
) -> None:
    submit = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    fresh = PresignedInputs("https://in.test/a.png?sig=fresh", "https://in.test/a.wav?sig=fresh", INPUTS.presign)
    job = _job(options={"check_subject": True, "output_resolution": 720}, seed=7)
    assert adapter.first_stage(job) == "subject_check"
    assert adapter.submit(job, fresh, stage="generate") == TaskRef(TASK, "generate")
    assert _body(submit) == {
        "req_key": "jimeng_realman_avatar_picture_omni_v15",
        "image_url": fresh.image_url,
        "audio_url": fresh.audio_url,
        "seed": 7,
        "output_resolution": 720,
        "pe_fast_mode": True,
    }


def test_no_recognisable_subject_is_invalid_media(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    _route(api, "CVGetResult").respond(200, json=status("done", resp_data='{"status": 0}'))
    submit = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    with pytest.raises(InvalidMedia) as caught:
        adapter.check(_job(options={"check_subject": True}), TaskRef(SUBJECT_TASK, "subject_check"))
    assert _cause(caught.value) == "image s3://in/a.png has no recognisable subject (volcengine subject recognition)"
    assert not submit.called


@pytest.mark.parametrize("resp_data", ["", "not json", "[1]", '{"status": 2}', '{"other": 1}', None], ids=str)
def test_unreadable_subject_results_are_unavailable(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, resp_data: Any
) -> None:
    _route(api, "CVGetResult").respond(200, json=status("done", resp_data=resp_data))
    with pytest.raises(ProviderUnavailable, match="subject recognition"):
        adapter.check(_job(options={"check_subject": True}), TaskRef(SUBJECT_TASK, "subject_check"))


@pytest.mark.parametrize("provider_status", ["not_found", "expired"])
def test_subject_check_that_disappeared_fails(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, provider_status: str
) -> None:
    _route(api, "CVGetResult").respond(200, json=status(provider_status))
    with pytest.raises(ProviderTaskFailed, match=SUBJECT_TASK):
        adapter.check(_job(options={"check_subject": True}), TaskRef(SUBJECT_TASK, "subject_check"))


def test_subject_check_business_errors_are_mapped(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    _route(api, "CVGetResult").respond(400, json=failure(50411, "Pre Img Risk Not Pass"))
    with pytest.raises(ProviderRejected, match="subject recognition query answered code 50411"):
        adapter.check(_job(options={"check_subject": True}), TaskRef(SUBJECT_TASK, "subject_check"))


# --- speaker (subject detection) ------------------------------------------------------------------

MASKS = ["https://masks.test/big.png", "https://masks.test/middle.png", "https://masks.test/small.png"]


def _detection(urls: list[str] | None, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"code": 0, "status": 1 if urls else 0, **extra}
    if urls is not None:
        result["object_detection_result"] = {"mask": {"url": urls}}
    return ok({"resp_data": json.dumps(result)})


@pytest.mark.parametrize("speaker", [1, 2, 3])
def test_speaker_picks_the_nth_largest_mask(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, speaker: int
) -> None:
    detect = _route(api, "CVProcess").respond(200, json=_detection(MASKS))
    submit = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    assert adapter.submit(_job(options={"speaker": speaker}), INPUTS) == TaskRef(TASK, "generate")
    assert _body(detect) == {"req_key": "jimeng_realman_avatar_object_detection", "image_url": INPUTS.image_url}
    assert str(detect.calls.last.request.url) == f"{BASE_URL}/?Action=CVProcess&Version=2022-08-31"
    assert _body(submit)["mask_url"] == [MASKS[speaker - 1]]


@pytest.mark.parametrize(
    ("response", "found"),
    [(_detection(MASKS[:1]), 1), (_detection([]), 0), (_detection(None), 0)],
    ids=["one", "empty", "absent"],
)
def test_too_few_subjects_is_invalid_media(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, response: dict[str, Any], found: int
) -> None:
    _route(api, "CVProcess").respond(200, json=response)
    submit = _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": TASK}))
    with pytest.raises(InvalidMedia) as caught:
        adapter.submit(_job(options={"speaker": 2}), INPUTS)
    assert _cause(caught.value) == (
        f"options.speaker asks for subject 2, but volcengine subject detection found {found} subject(s) "
        "in image s3://in/a.png"
    )
    assert not submit.called


def test_speaker_with_subject_check_detects_when_the_video_is_submitted(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter
) -> None:
    detect = _route(api, "CVProcess").respond(200, json=_detection(MASKS))
    _route(api, "CVSubmitTask").respond(200, json=ok({"task_id": SUBJECT_TASK}))
    job = _job(options={"check_subject": True, "speaker": 1})
    assert adapter.submit(job, INPUTS).stage == "subject_check"
    assert not detect.called


@pytest.mark.parametrize(
    "data",
    [
        ok({"resp_data": "{"}),
        ok({"resp_data": json.dumps({"object_detection_result": {"mask": {"url": [1]}}})}),
        ok(None),
    ],
    ids=["bad-json", "bad-urls", "no-data"],
)
def test_unreadable_detection_is_unavailable(
    api: respx.MockRouter, adapter: volcengine.VolcengineAdapter, data: dict[str, Any]
) -> None:
    _route(api, "CVProcess").respond(200, json=data)
    with pytest.raises(ProviderUnavailable, match="subject detection"):
        adapter.submit(_job(options={"speaker": 1}), INPUTS)


def test_detection_errors_are_mapped(api: respx.MockRouter, adapter: volcengine.VolcengineAdapter) -> None:
    _route(api, "CVProcess").respond(429, json=failure(50430))
    with pytest.raises(ProviderThrottled, match="subject detection answered code 50430"):
        adapter.submit(_job(options={"speaker": 1}), INPUTS)
