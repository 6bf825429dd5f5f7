"""The Kling AI Avatar adapter against a mocked HTTP API (respx): request body, idempotent submit, API-key and
JWT auth (claims, caching, renewal, re-signing), status handling and the error-code mapping."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
import respx
from avatar_pipeline.capabilities import KLING_AVATAR
from avatar_pipeline.errors import (
    InvalidRequest,
    PipelineError,
    ProviderRejected,
    ProviderTaskFailed,
    ProviderThrottled,
    ProviderUnavailable,
    ResultUnavailable,
)
from avatar_pipeline.models import Job
from avatar_pipeline.providers import kling
from avatar_pipeline.providers.base import (
    ExternalIdTaken,
    PresignedInputs,
    ResultLocation,
    TaskCheck,
    TaskRef,
)
from avatar_pipeline.providers.classify import SubmitOutcomeUnknown
from avatar_pipeline.redaction import register_document
from pydantic import ValidationError

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:provider"
BASE_URL = "https://kling.test"
API_KEY = "kling-api-key-0123456789"
ACCESS_KEY = "AK-kling-0123"
SECRET_KEY = "SK-kling-secret-9876543210-abcdefgh"
PATH = "/v1/videos/avatar/image2video"
JOB_ID = "job-1"
EXTERNAL = "avp-0123456789abcdef0123456789abcdef01234567"
TASK = "860123456789"
LOOKUP = f"{PATH}/{EXTERNAL}"
CREATED_AT = datetime.fromtimestamp(1_750_000_000, UTC)
QUERY = f"{PATH}/{TASK}"
VIDEO = "https://cdn.klingai.test/videos/860123456789.mp4?sig=abc"
NOW = 1_750_000_000.0
INPUTS = PresignedInputs(
    image_url="https://in.test/a.png?sig=1", audio_url="https://in.test/a.mp3?sig=2", presign=lambda uri: uri
)
NO_AUDIO = PresignedInputs(image_url=INPUTS.image_url, audio_url=None, presign=lambda uri: uri)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    entry: dict[str, str] = {"api_key": API_KEY}

    def fake(secret_arn: str, section: str) -> dict[str, str]:
        assert section == "kling"
        register_document(entry)  # as reading the real secret does (credentials.py)
        return dict(entry)

    monkeypatch.setattr(kling, "provider_credentials", fake)
    return entry


@pytest.fixture
def legacy(credentials: dict[str, str]) -> dict[str, str]:
    credentials.clear()
    credentials.update(access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    return credentials


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def adapter(credentials: dict[str, str], clock: Clock) -> Iterator[kling.KlingAdapter]:
    with httpx.Client() as client:
        yield kling.KlingAdapter(KLING_AVATAR, BASE_URL + "/", client, SECRET_ARN, clock=clock, tokens=kling.JwtCache())


def _job(*, audio: bool = True, prompt: str | None = None, **options: Any) -> Job:
    request: dict[str, Any] = {"image": "a.png", "options": options}
    if audio:
        request["audio"] = "a.mp3"
    if prompt is not None:
        request["prompt"] = prompt
    return Job.model_validate(
        {
            "job_id": JOB_ID,
            "provider": "kling/avatar",
            "image": {"s3": {"bucket": "in", "key": "a.png"}},
            "audio": {"s3": {"bucket": "in", "key": "a.mp3"}} if audio else None,
            "request": request,
            "trigger": "console",
            "requested_at": datetime(2025, 3, 1, tzinfo=UTC),
        }
    )


def ok(data: dict[str, Any] | None) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": "req-ok", "data": data}


def task(status: str = "submitted", *, videos: list[dict[str, Any]] | None = None, msg: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {
        "task_id": TASK,
        "task_status": status,
        "task_status_msg": msg,
        "task_info": {"external_task_id": EXTERNAL},
        "created_at": 1_750_000_000_000,
        "updated_at": 1_750_000_001_000,
    }
    if videos is not None:
        data["task_result"] = {"videos": videos}
    return ok(data)


def failure(code: int, message: str = "refused", request_id: str = "req-42") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": request_id}


NOT_FOUND = httpx.Response(404, json=failure(1203, "task not found"))


def _cause(error: PipelineError) -> str:
    for secret in (API_KEY, SECRET_KEY):
        assert secret not in error.cause, "a key must never appear in a cause"
        assert secret not in str(error)
    assert "eyJ" not in error.cause, "a JWT must never appear in a cause"
    return error.cause


def _sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


def _bearer(route: respx.Route, index: int = -1) -> str:
    header = route.calls[index].request.headers["Authorization"]
    assert header.startswith("Bearer ")
    return str(header[len("Bearer ") :])


# --- submit: the request body ---------------------------------------------------------------------


def test_submit_with_sound_file_posts_the_documented_body(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    create = api.post(PATH).respond(200, json=task())
    job = _job(prompt="speaks warmly, slow push-in", mode="pro", watermark=True)
    assert adapter.submit(job, INPUTS, external_id=EXTERNAL) == TaskRef(TASK)
    assert create.call_count == 1, "no look-up before a create: the ledger decides when one is needed"
    assert _sent(create) == {
        "image": INPUTS.image_url,
        "sound_file": INPUTS.audio_url,
        "prompt": "speaks warmly, slow push-in",
        "mode": "pro",
        "watermark_info": {"enabled": True},
        "external_task_id": EXTERNAL,
    }
    assert create.calls[0].request.headers["Content-Type"] == "application/json"


def test_submit_with_audio_id_defaults_and_no_prompt(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    create = api.post(PATH).respond(200, json=task())
    adapter.submit(_job(audio=False, audio_id="tts-audio-7"), NO_AUDIO, external_id=EXTERNAL)
    body = _sent(create)
    assert body == {
        "image": INPUTS.image_url,
        "audio_id": "tts-audio-7",
        "mode": "std",
        "watermark_info": {"enabled": False},
        "external_task_id": EXTERNAL,
    }
    assert "model_name" not in body
    assert "sound_file" not in body


@pytest.mark.parametrize(
    ("audio", "options", "expected"),
    [
        (True, {"audio_id": "tts-audio-7"}, r"either audio or options\.audio_id, not both"),
        (False, {}, r"audio is required \(or options\.audio_id"),
    ],
    ids=["both", "neither"],
)
def test_a_job_has_exactly_one_audio_source(audio: bool, options: dict[str, Any], expected: str) -> None:
    """Checked once, when the job is parsed: no adapter ever sees a job with both or neither."""
    with pytest.raises(ValidationError, match=expected):
        _job(audio=audio, **options)


def test_a_job_with_unknown_options_is_refused_when_parsed() -> None:
    with pytest.raises(InvalidRequest, match=r"unknown option\(s\) for kling/avatar: seed"):
        _job(seed=1)


def test_a_job_with_a_prompt_over_2500_chars_is_refused_when_parsed() -> None:
    with pytest.raises(ValidationError, match="at most 2500"):
        _job(prompt="x" * 2501)


# --- submit: idempotency --------------------------------------------------------------------------


def test_find_adopts_the_task_created_with_this_attempts_external_id(
    api: respx.MockRouter, adapter: kling.KlingAdapter
) -> None:
    lookup = api.get(LOOKUP).respond(200, json=task("processing"))
    found = adapter.find(_job(), stage="generate", external_id=EXTERNAL, not_before=CREATED_AT)
    assert found == TaskRef(TASK)
    assert lookup.call_count == 1


@pytest.mark.parametrize(
    "not_found",
    [
        httpx.Response(404, json=failure(1203, "task not found")),
        httpx.Response(404, json=failure(1202, "method invalid")),
        httpx.Response(200, json=failure(1203, "task not found")),
        httpx.Response(404, text="Not Found"),
    ],
    ids=["404-1203", "404-1202", "200-1203", "404-no-envelope"],
)
def test_find_answers_none_when_kling_has_no_such_task(
    api: respx.MockRouter, adapter: kling.KlingAdapter, not_found: httpx.Response
) -> None:
    api.get(LOOKUP).mock(return_value=not_found)
    assert adapter.find(_job(), stage="generate", external_id=EXTERNAL, not_before=CREATED_AT) is None


@pytest.mark.parametrize(
    ("reported", "created_ms", "why"),
    [
        ("job-1", 1_750_000_000_000, "another deployment's task under the bare job id"),
        (None, 1_750_000_000_000, "a task that reports no external id"),
        (EXTERNAL, 1_750_000_000_000 - 3600_000, "a task older than this attempt"),
    ],
)
def test_find_never_adopts_a_task_that_is_not_provably_this_attempts(
    api: respx.MockRouter, adapter: kling.KlingAdapter, reported: str | None, created_ms: int, why: str
) -> None:
    """Another deployment on the same Kling account, or an earlier life of the same id, made this task."""
    other = task("succeed")
    other["data"] |= {"task_info": {"external_task_id": reported} if reported else {}, "created_at": created_ms}
    api.get(LOOKUP).respond(200, json=other)
    with pytest.raises(ProviderRejected, match="it was not adopted"):
        adapter.find(_job(), stage="generate", external_id=EXTERNAL, not_before=CREATED_AT)


def test_a_create_refused_because_the_external_id_exists_is_left_to_the_ledger(
    api: respx.MockRouter, adapter: kling.KlingAdapter
) -> None:
    api.post(PATH).respond(400, json=failure(1201, "external_task_id already exists"))
    with pytest.raises(ExternalIdTaken) as caught:
        adapter.submit(_job(), INPUTS, external_id=EXTERNAL)
    assert "code 1201" in caught.value.refusal.cause


def test_an_invalid_parameter_without_an_external_id_is_rejected(
    api: respx.MockRouter, adapter: kling.KlingAdapter
) -> None:
    api.post(PATH).respond(400, json=failure(1201, "invalid image"))
    with pytest.raises(ProviderRejected) as caught:
        adapter.submit(_job(), INPUTS)
    assert "code 1201 (invalid parameter value): invalid image" in _cause(caught.value)


@pytest.mark.parametrize("status", [408, 409, 502, 504])
def test_a_create_answer_that_does_not_say_whether_a_task_exists_is_an_unknown_outcome(
    api: respx.MockRouter, adapter: kling.KlingAdapter, status: int
) -> None:
    api.post(PATH).respond(status, json=failure(5002, "server internal timeout"))
    with pytest.raises(SubmitOutcomeUnknown):
        adapter.submit(_job(), INPUTS, external_id=EXTERNAL)


def test_submit_with_a_base_url_that_has_no_avatar_api_is_rejected(
    api: respx.MockRouter, adapter: kling.KlingAdapter
) -> None:
    api.post(PATH).respond(404, json=failure(1202, "method invalid"))
    with pytest.raises(ProviderRejected, match="code 1202"):
        adapter.submit(_job(), INPUTS)


# --- auth -----------------------------------------------------------------------------------------


def test_api_key_is_sent_as_bearer(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    route = api.get(QUERY).respond(200, json=task("processing"))
    adapter.check(_job(), TaskRef(TASK))
    assert _bearer(route) == API_KEY


def test_api_key_wins_over_a_legacy_pair(
    api: respx.MockRouter, adapter: kling.KlingAdapter, credentials: dict[str, str]
) -> None:
    credentials.update(access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    route = api.get(QUERY).respond(200, json=task("processing"))
    adapter.check(_job(), TaskRef(TASK))
    assert _bearer(route) == API_KEY


def test_legacy_keys_sign_a_jwt_with_the_documented_header_and_claims(
    api: respx.MockRouter, adapter: kling.KlingAdapter, legacy: dict[str, str]
) -> None:
    route = api.get(QUERY).respond(200, json=task("processing"))
    adapter.check(_job(), TaskRef(TASK))
    token = _bearer(route)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert claims == {"iss": ACCESS_KEY, "exp": int(NOW) + 1800, "nbf": int(NOW) - 5}


def test_jwt_is_cached_and_renewed_when_less_than_five_minutes_remain(
    api: respx.MockRouter, adapter: kling.KlingAdapter, legacy: dict[str, str], clock: Clock
) -> None:
    route = api.get(QUERY).respond(200, json=task("processing"))

    def token_at(now: float) -> str:
        clock.now = now
        adapter.check(_job(), TaskRef(TASK))
        return _bearer(route)

    first = token_at(NOW)
    assert token_at(NOW + 60) == first
    assert token_at(NOW + 1499) == first, "301 s left: still reused"
    renewed = token_at(NOW + 1500)
    assert renewed != first, "300 s left: renewed"
    assert jwt.decode(renewed, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False})["exp"] == int(
        NOW + 1500 + 1800
    )
    assert token_at(NOW + 1600) == renewed


def test_jwt_cache_is_shared_per_process_and_follows_key_rotation(
    api: respx.MockRouter, legacy: dict[str, str]
) -> None:
    route = api.get(QUERY).respond(200, json=task("processing"))
    kling.PROCESS_TOKENS.clear()
    with httpx.Client() as client:
        first, second = (
            kling.KlingAdapter(KLING_AVATAR, BASE_URL, client, SECRET_ARN, clock=Clock()) for _ in range(2)
        )
        first.check(_job(), TaskRef(TASK))
        second.check(_job(), TaskRef(TASK))
        assert _bearer(route, 0) == _bearer(route, 1)
        legacy["secret_key"] = "SK-rotated-0000000000000000000000000"
        second.check(_job(), TaskRef(TASK))
    jwt.decode(
        _bearer(route), "SK-rotated-0000000000000000000000000", algorithms=["HS256"], options={"verify_exp": False}
    )
    kling.PROCESS_TOKENS.clear()


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1004])
def test_auth_code_re_signs_once_then_succeeds(
    api: respx.MockRouter, adapter: kling.KlingAdapter, legacy: dict[str, str], clock: Clock, code: int
) -> None:
    answers = iter([httpx.Response(401, json=failure(code, "token expired")), httpx.Response(200, json=task())])

    def answer(request: httpx.Request) -> httpx.Response:
        clock.now += 10
        return next(answers)

    route = api.get(QUERY).mock(side_effect=answer)
    assert adapter.check(_job(), TaskRef(TASK)).status == "running"
    assert route.call_count == 2
    first, second = _bearer(route, 0), _bearer(route, 1)
    assert first != second, "the cached JWT is dropped and a new one signed"
    claims = jwt.decode(second, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert claims["nbf"] == int(NOW) + 10 - 5


def test_auth_refused_twice_is_rejected_with_a_credentials_hint(
    api: respx.MockRouter, adapter: kling.KlingAdapter, legacy: dict[str, str]
) -> None:
    route = api.get(QUERY).respond(401, json=failure(1004, "token expired"))
    with pytest.raises(ProviderRejected) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert route.call_count == 2
    cause = _cause(caught.value)
    assert "check the kling credentials in the provider secret" in cause
    assert "code 1004 (authorization has expired)" in cause
    assert "req-42" in cause


def test_api_key_refused_twice_is_rejected(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    route = api.post(PATH).respond(401, text="Unauthorized")
    api.get(LOOKUP).mock(return_value=NOT_FOUND)
    with pytest.raises(ProviderRejected, match="check the kling credentials"):
        adapter.submit(_job(), INPUTS)
    assert route.call_count == 2


@pytest.mark.parametrize(
    "entry", [{}, {"access_key": ACCESS_KEY}, {"secret_key": SECRET_KEY}, {"api_key": ""}], ids=str
)
def test_incomplete_credentials_are_rejected(
    api: respx.MockRouter, adapter: kling.KlingAdapter, credentials: dict[str, str], entry: dict[str, str]
) -> None:
    credentials.clear()
    credentials.update(entry)
    with pytest.raises(ProviderRejected, match="needs api_key, or access_key and secret_key"):
        adapter.check(_job(), TaskRef(TASK))
    assert not api.calls


# --- error mapping --------------------------------------------------------------------------------

CODE_CASES: list[tuple[int, int, type[PipelineError], str]] = [
    (429, 1302, ProviderThrottled, "request rate limit exceeded"),
    (429, 1303, ProviderThrottled, "concurrency or QPS over the resource pack limit"),
    (500, 5000, ProviderUnavailable, "server internal error"),
    (503, 5001, ProviderUnavailable, "service temporarily unavailable"),
    (429, 1100, ProviderRejected, "account exception"),
    (429, 1101, ProviderRejected, "account in arrears"),
    (429, 1102, ProviderRejected, "resource pack exhausted or expired"),
    (403, 1103, ProviderRejected, "no access to the requested resource"),
    (400, 1200, ProviderRejected, "invalid request parameters"),
    (400, 1201, ProviderRejected, "invalid parameter value"),
    (400, 1300, ProviderRejected, "platform policy triggered"),
    (400, 1301, ProviderRejected, "content safety policy triggered"),
    (429, 1304, ProviderRejected, "IP whitelist policy triggered"),
    (401, 1000, ProviderRejected, "authentication failed"),
    (401, 1004, ProviderRejected, "authorization has expired"),
]


@pytest.mark.parametrize(("status", "code", "error", "meaning"), CODE_CASES, ids=[str(c[1]) for c in CODE_CASES])
def test_submit_error_codes(
    api: respx.MockRouter,
    adapter: kling.KlingAdapter,
    status: int,
    code: int,
    error: type[PipelineError],
    meaning: str,
) -> None:
    api.post(PATH).respond(status, json=failure(code, "provider says no"))
    with pytest.raises(error) as caught:
        adapter.submit(_job(), INPUTS)
    assert type(caught.value) is error
    cause = _cause(caught.value)
    assert f"code {code} ({meaning}): provider says no" in cause
    assert "request_id req-42" in cause


QUERY_CASES = [
    *CODE_CASES,
    (504, 5002, ProviderUnavailable, "server internal timeout"),
    (404, 1202, ProviderTaskFailed, "requested method is invalid"),
    (404, 1203, ProviderTaskFailed, "requested resource does not exist"),
]


@pytest.mark.parametrize(("status", "code", "error", "meaning"), QUERY_CASES, ids=[str(c[1]) for c in QUERY_CASES])
def test_query_error_codes(
    api: respx.MockRouter,
    adapter: kling.KlingAdapter,
    status: int,
    code: int,
    error: type[PipelineError],
    meaning: str,
) -> None:
    api.get(QUERY).respond(status, json=failure(code, "provider says no"))
    with pytest.raises(error) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert type(caught.value) is error
    assert f"code {code} ({meaning})" in _cause(caught.value)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(500, text="oops"), ProviderUnavailable),
        (httpx.Response(502, text="<html>bad gateway</html>"), ProviderUnavailable),
        (httpx.Response(503, text=""), ProviderUnavailable),
        (httpx.Response(504, text="gateway timeout"), ProviderUnavailable),
        (httpx.Response(429, text="Too Many Requests"), ProviderThrottled),
        (httpx.Response(200, text="not json"), ProviderUnavailable),
        (httpx.Response(200, json=ok(None)), ProviderUnavailable),
        (httpx.Response(200, json=ok({"task_status": "succeed"})), ProviderUnavailable),
        (httpx.Response(400, json=failure(1999, "new code")), ProviderRejected),
        (httpx.Response(200, json=failure(1999, "new code")), ProviderRejected),
    ],
    ids=["500", "502", "503", "504", "429", "not-json", "no-data", "no-task-id", "400-unknown", "200-unknown"],
)
def test_responses_without_a_documented_code(
    api: respx.MockRouter, adapter: kling.KlingAdapter, response: httpx.Response, error: type[PipelineError]
) -> None:
    api.get(QUERY).mock(return_value=response)
    with pytest.raises(error) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert type(caught.value) is error


@pytest.mark.parametrize(
    ("exception", "message"),
    [(httpx.ConnectTimeout("slow"), "timed out"), (httpx.ConnectError("refused"), "ConnectError")],
)
def test_transport_failures_are_unavailable(
    api: respx.MockRouter, adapter: kling.KlingAdapter, exception: Exception, message: str
) -> None:
    api.get(QUERY).mock(side_effect=exception)
    with pytest.raises(ProviderUnavailable, match=message):
        adapter.check(_job(), TaskRef(TASK))


@pytest.mark.parametrize("mode", ["api_key", "jwt"])
def test_secrets_echoed_by_the_provider_never_reach_a_cause(
    api: respx.MockRouter, adapter: kling.KlingAdapter, credentials: dict[str, str], mode: str
) -> None:
    credentials.update(access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    if mode == "jwt":
        del credentials["api_key"]

    def echo(request: httpx.Request) -> httpx.Response:
        header = request.headers["Authorization"]
        return httpx.Response(400, json=failure(1201, f"bad {header} with {SECRET_KEY}", request_id=header))

    api.get(QUERY).mock(side_effect=echo)
    with pytest.raises(ProviderRejected) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert "bad Bearer [redacted] with [redacted]" in _cause(caught.value)

    api.get(QUERY).mock(side_effect=lambda request: httpx.Response(401, json=failure(1002, str(request.headers))))
    with pytest.raises(ProviderRejected) as refused:
        adapter.check(_job(), TaskRef(TASK))
    _cause(refused.value)


# --- check and result -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["submitted", "processing"])
def test_check_running(api: respx.MockRouter, adapter: kling.KlingAdapter, status: str) -> None:
    route = api.get(QUERY).respond(200, json=task(status))
    assert adapter.check(_job(), TaskRef(TASK)) == TaskCheck(status="running", provider_status=status)
    assert route.call_count == 1


def test_check_succeeded(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    api.get(QUERY).respond(200, json=task("succeed", videos=[{"id": "v1", "url": VIDEO, "duration": "4.0"}]))
    check = adapter.check(_job(), TaskRef(TASK))
    # updated_at (ms) of a succeeded task: when its status last changed, to succeed, by Kling's clock.
    finished = datetime.fromtimestamp(1_750_000_001, UTC)
    assert check == TaskCheck(status="succeeded", provider_status="succeed", completed_at=finished)


@pytest.mark.parametrize(("reported", "units"), [("2", 2.0), (1.5, 1.5), ("n/a", None)])
def test_check_succeeded_reports_the_units_kling_charged(
    api: respx.MockRouter, adapter: kling.KlingAdapter, reported: Any, units: float | None
) -> None:
    finished = task("succeed", videos=[{"id": "v1", "url": VIDEO, "duration": "4.0"}])
    finished["data"]["final_unit_deduction"] = reported
    api.get(QUERY).respond(200, json=finished)
    assert adapter.check(_job(), TaskRef(TASK)).reported_units == units


@pytest.mark.parametrize("videos", [None, [], [{"id": "v1", "url": ""}]], ids=["no-result", "no-videos", "no-url"])
def test_check_succeed_without_a_video_fails(
    api: respx.MockRouter, adapter: kling.KlingAdapter, videos: list[dict[str, Any]] | None
) -> None:
    api.get(QUERY).respond(200, json=task("succeed", videos=videos))
    with pytest.raises(ProviderTaskFailed, match="succeeded without an output video"):
        adapter.check(_job(), TaskRef(TASK))


def test_check_failed_carries_the_status_message(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    api.get(QUERY).respond(200, json=task("failed", msg="audio is 1.0 s long"))
    with pytest.raises(ProviderTaskFailed) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert caught.value.cause == f"kling task {TASK} failed: audio is 1.0 s long"


def test_check_unknown_status_fails(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    api.get(QUERY).respond(200, json=task("paused"))
    with pytest.raises(ProviderTaskFailed, match="unknown status 'paused'"):
        adapter.check(_job(), TaskRef(TASK))


def test_check_unknown_task_fails(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    api.get(QUERY).respond(404, json=failure(1203, "task not found"))
    with pytest.raises(ProviderTaskFailed, match=f"task {TASK} is unknown to kling"):
        adapter.check(_job(), TaskRef(TASK))


def test_result_queries_again_for_a_fresh_url(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    fresh = VIDEO.replace("abc", "def")
    route = api.get(QUERY).mock(
        side_effect=[
            httpx.Response(200, json=task("succeed", videos=[{"id": "v1", "url": VIDEO}])),
            httpx.Response(200, json=task("succeed", videos=[{"id": "v1", "url": fresh, "watermark_url": "w"}])),
        ]
    )
    assert adapter.result(_job(), TaskRef(TASK)) == ResultLocation(VIDEO)
    assert adapter.result(_job(), TaskRef(TASK)) == ResultLocation(fresh, aigc_meta_tagged=None)
    assert route.call_count == 2


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json=task("processing")),
        httpx.Response(200, json=task("failed", msg="boom")),
        httpx.Response(200, json=task("succeed", videos=[])),
        httpx.Response(404, json=failure(1203, "task not found")),
    ],
    ids=["running", "failed", "no-video", "unknown-task"],
)
def test_result_unavailable(api: respx.MockRouter, adapter: kling.KlingAdapter, response: httpx.Response) -> None:
    api.get(QUERY).mock(return_value=response)
    with pytest.raises(ResultUnavailable):
        adapter.result(_job(), TaskRef(TASK))


def test_result_throttled_stays_throttled(api: respx.MockRouter, adapter: kling.KlingAdapter) -> None:
    api.get(QUERY).respond(429, json=failure(1302, "too fast"))
    with pytest.raises(ProviderThrottled):
        adapter.result(_job(), TaskRef(TASK))
