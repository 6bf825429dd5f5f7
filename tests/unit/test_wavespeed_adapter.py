"""The WaveSpeedAI v3 adapter against a mocked HTTP API (respx): requests, envelopes, status and error mapping."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from avatar_pipeline.capabilities import WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.errors import (
    PipelineError,
    ProviderRejected,
    ProviderTaskFailed,
    ProviderThrottled,
    ProviderUnavailable,
    ResultUnavailable,
)
from avatar_pipeline.models import Job
from avatar_pipeline.providers import wavespeed
from avatar_pipeline.providers.base import PresignedInputs, TaskRef
from avatar_pipeline.providers.classify import SubmitOutcomeUnknown
from avatar_pipeline.providers.registry import ProviderSettings, adapter_for
from avatar_pipeline.redaction import register_document
from avatar_pipeline.settings import load_settings

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:provider"
BASE_URL = "https://wavespeed.test"
API_KEY = "ws-secret-key-0123456789"
SUBMIT_PATH = "/api/v3/bytedance/avatar-omni-human-1.5"
TASK = "pred-123"
RESULT_PATH = f"/api/v3/predictions/{TASK}/result"
OUTPUT = "https://d1q70pf5vjeyhc.cloudfront.net/predictions/pred-123/1.mp4"
INPUTS = PresignedInputs(
    image_url="https://in.test/a.png?sig=1", audio_url="https://in.test/a.wav?sig=2", presign=lambda uri: uri
)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def fake(secret_arn: str, section: str) -> dict[str, Any]:
        asked.append(section)
        register_document({"api_key": API_KEY})  # as reading the real secret does (credentials.py)
        return {"api_key": API_KEY}

    monkeypatch.setattr(wavespeed, "provider_credentials", fake)
    return asked


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
def adapter() -> Iterator[wavespeed.WaveSpeedAdapter]:
    with httpx.Client() as client:
        yield wavespeed.WaveSpeedAdapter(WAVESPEED_OMNIHUMAN_15, BASE_URL + "/", client, SECRET_ARN)


def _job() -> Job:
    return Job.model_validate(
        {
            "job_id": "j-1",
            "provider": "wavespeed/omnihuman-1.5",
            "image": {"s3": {"bucket": "in", "key": "a.png"}},
            "audio": {"s3": {"bucket": "in", "key": "a.wav"}},
            "request": {"image": "a.png", "audio": "a.wav"},
            "trigger": "console",
            "requested_at": datetime(2025, 3, 1, tzinfo=UTC),
        }
    )


def envelope(
    status: str = "created", *, outputs: list[str] | None = None, error: str | None = "", **data: Any
) -> dict[str, Any]:
    """The documented envelope: {code:200,message,data:{id,model,outputs[],urls.get,...,status,error,timings}}."""
    return {
        "code": 200,
        "message": "success",
        "data": {
            "id": TASK,
            "model": "bytedance/avatar-omni-human-1.5",
            "outputs": outputs or [],
            "urls": {"get": f"{BASE_URL}{RESULT_PATH}"},
            "has_nsfw_contents": [],
            "status": status,
            "created_at": "2025-03-01T12:00:00.000000Z",
            "error": error,
            "timings": {"inference": 0},
            **data,
        },
    }


def _cause(error: PipelineError) -> str:
    assert API_KEY not in error.cause, "the API key must never appear in a cause"
    assert API_KEY not in str(error)
    return error.cause


# --- submit ---------------------------------------------------------------------------------------


def test_submit_posts_the_documented_request(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, credentials: list[str]
) -> None:
    route = api.post(SUBMIT_PATH).respond(200, json=envelope("created"))
    assert adapter.submit(_job(), INPUTS) == TaskRef(TASK)
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url == f"{BASE_URL}{SUBMIT_PATH}"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "image": INPUTS.image_url,
        "audio": INPUTS.audio_url,
        "enable_base64_output": False,
    }
    assert credentials == ["wavespeed"]


@pytest.mark.parametrize(
    "body",
    [
        envelope("created"),
        envelope("processing"),
        {"code": 200, "message": "success", "data": {"id": TASK, "status": "created"}},
        {"code": 200, "data": {"id": TASK, "status": "created", "error": None, "extra": {"x": 1}}},
    ],
    ids=["created", "processing", "minimal", "no-message"],
)
def test_submit_reads_the_task_id_from_documented_envelopes(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, body: dict[str, Any]
) -> None:
    api.post(SUBMIT_PATH).respond(200, json=body)
    assert adapter.submit(_job(), INPUTS) == TaskRef(TASK)


@pytest.mark.parametrize(
    "body",
    [{"code": 200, "message": "ok"}, {"code": 200, "data": {"status": "created"}}, {"code": 200, "data": {"id": ""}}],
    ids=["no-data", "no-id", "empty-id"],
)
def test_submit_without_a_task_id_is_unavailable(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, body: dict[str, Any]
) -> None:
    api.post(SUBMIT_PATH).respond(200, json=body)
    with pytest.raises(ProviderUnavailable) as caught:
        adapter.submit(_job(), INPUTS)
    assert "wavespeed submit returned an unreadable prediction" in _cause(caught.value)


def test_adapter_from_registry_uses_the_base_url_env(monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter) -> None:
    urls = {"WAVESPEED_BASE_URL": BASE_URL, "VOLCENGINE_BASE_URL": "https://v.test", "KLING_BASE_URL": "https://k.test"}
    for name, value in {**urls, "PROVIDER_SECRET_ARN": SECRET_ARN}.items():
        monkeypatch.setenv(name, value)
    route = api.post(SUBMIT_PATH).respond(200, json=envelope())
    with httpx.Client() as client:
        adapter = adapter_for("wavespeed/omnihuman-1.5", load_settings(ProviderSettings), client)
        assert adapter.submit(_job(), INPUTS) == TaskRef(TASK)
    assert route.called


def test_missing_api_key_is_rejected(
    monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter
) -> None:
    monkeypatch.setattr(wavespeed, "provider_credentials", lambda secret_arn, section: {"api_key": ""})
    route = api.post(SUBMIT_PATH).respond(200, json=envelope())
    with pytest.raises(ProviderRejected, match=r"wavespeed\.api_key"):
        adapter.submit(_job(), INPUTS)
    assert not route.called


# --- status ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["created", "processing"])
def test_running_statuses(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, status: str) -> None:
    route = api.get(RESULT_PATH).respond(200, json=envelope(status))
    check = adapter.check(_job(), TaskRef(TASK))
    assert (check.status, check.provider_status) == ("running", status)
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_completed_with_outputs_succeeds(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter) -> None:
    api.get(RESULT_PATH).respond(200, json=envelope("completed", outputs=[OUTPUT]))
    check = adapter.check(_job(), TaskRef(TASK))
    assert (check.status, check.provider_status) == ("succeeded", "completed")


def test_a_completed_prediction_finished_at_created_at_plus_its_inference_time(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter
) -> None:
    """WaveSpeed's only completion stamp: ``created_at`` plus ``timings.inference`` (milliseconds)."""
    api.get(RESULT_PATH).respond(200, json=envelope("completed", outputs=[OUTPUT], timings={"inference": 41_250}))
    check = adapter.check(_job(), TaskRef(TASK))
    assert check.completed_at == datetime(2025, 3, 1, 12, 0, 41, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(
    "changes",
    [
        {"timings": {}},
        {"timings": None},
        {"created_at": None},
        {"created_at": "yesterday"},
        {"timings": {"inference": "1"}},
    ],
)
def test_a_prediction_without_a_readable_completion_stamp_reports_none(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, changes: dict[str, Any]
) -> None:
    api.get(RESULT_PATH).respond(200, json=envelope("completed", outputs=[OUTPUT], **changes))
    check = adapter.check(_job(), TaskRef(TASK))
    assert (check.status, check.completed_at) == ("succeeded", None)


def test_completed_without_outputs_is_a_failed_task(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter) -> None:
    api.get(RESULT_PATH).respond(200, json=envelope("completed", outputs=[]))
    with pytest.raises(ProviderTaskFailed) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert _cause(caught.value) == f"wavespeed task {TASK} completed without an output video"


def test_failed_task_carries_the_providers_error(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter) -> None:
    api.get(RESULT_PATH).respond(200, json=envelope("failed", error="face not detected in the image"))
    with pytest.raises(ProviderTaskFailed) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert _cause(caught.value) == f"wavespeed task {TASK} failed: face not detected in the image"


def test_failed_task_without_reason(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter) -> None:
    api.get(RESULT_PATH).respond(200, json=envelope("failed", error=None))
    with pytest.raises(ProviderTaskFailed, match="failed: no reason given"):
        adapter.check(_job(), TaskRef(TASK))


@pytest.mark.parametrize("status", ["queued", "cancelled", ""])
def test_unknown_status_is_a_failed_task(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, status: str
) -> None:
    api.get(RESULT_PATH).respond(200, json=envelope(status))
    with pytest.raises(ProviderTaskFailed) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert f"reported an unknown status {status!r}" in _cause(caught.value)


# --- HTTP and envelope errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "fragment"),
    [
        (429, ProviderThrottled, "answered HTTP 429"),
        (500, ProviderUnavailable, "answered HTTP 500"),
        (503, ProviderUnavailable, "answered HTTP 503"),
        (401, ProviderRejected, "check the wavespeed api_key"),
        (403, ProviderRejected, "check the wavespeed api_key"),
        (400, ProviderRejected, "answered HTTP 400"),
        (422, ProviderRejected, "answered HTTP 422"),
    ],
)
def test_submit_http_errors(
    api: respx.MockRouter,
    adapter: wavespeed.WaveSpeedAdapter,
    status: int,
    error: type[PipelineError],
    fragment: str,
) -> None:
    api.post(SUBMIT_PATH).respond(status, json={"code": status, "message": f"problem {status}", "data": None})
    with pytest.raises(error) as caught:
        adapter.submit(_job(), INPUTS)
    cause = _cause(caught.value)
    assert cause.startswith("wavespeed submit answered HTTP")
    assert fragment in cause
    assert f"problem {status}" in cause


def test_http_error_without_json_uses_the_reason_phrase(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter
) -> None:
    api.post(SUBMIT_PATH).respond(429, text="Too Many Requests")
    with pytest.raises(ProviderThrottled) as caught:
        adapter.submit(_job(), INPUTS)
    assert _cause(caught.value) == "wavespeed submit answered HTTP 429: Too Many Requests"


@pytest.mark.parametrize(
    ("status", "error"), [(429, ProviderThrottled), (500, ProviderUnavailable), (400, ProviderRejected)]
)
def test_status_query_http_errors(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, status: int, error: type[PipelineError]
) -> None:
    api.get(RESULT_PATH).respond(status, json={"code": status, "message": "nope"})
    with pytest.raises(error) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert "wavespeed result query answered HTTP" in _cause(caught.value)


def test_404_on_the_result_is_a_failed_task(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter) -> None:
    api.get(RESULT_PATH).respond(404, json={"code": 404, "message": "prediction not found"})
    with pytest.raises(ProviderTaskFailed) as caught:
        adapter.check(_job(), TaskRef(TASK))
    cause = _cause(caught.value)
    assert "answered HTTP 404: prediction not found" in cause
    assert f"task {TASK} is unknown to the provider" in cause


def test_404_on_submit_is_rejected(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter) -> None:
    api.post(SUBMIT_PATH).respond(404, json={"code": 404, "message": "model not found"})
    with pytest.raises(ProviderRejected, match="HTTP 404: model not found"):
        adapter.submit(_job(), INPUTS)


@pytest.mark.parametrize("body", ["<html>Bad gateway</html>", "", "[1, 2]"], ids=["html", "empty", "json-list"])
def test_non_json_body_is_unavailable(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, body: str) -> None:
    api.get(RESULT_PATH).respond(200, text=body)
    with pytest.raises(ProviderUnavailable) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert "wavespeed result query returned an unreadable body (HTTP 200)" in _cause(caught.value)


@pytest.mark.parametrize(
    ("code", "error"),
    [(429, ProviderThrottled), (500, ProviderUnavailable), (401, ProviderRejected), (400, ProviderRejected)],
)
def test_envelope_code_inside_http_200(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, code: int, error: type[PipelineError]
) -> None:
    api.post(SUBMIT_PATH).respond(200, json={"code": code, "message": "Too Many Requests", "data": None})
    with pytest.raises(error) as caught:
        adapter.submit(_job(), INPUTS)
    assert f"answered HTTP {code}: Too Many Requests" in _cause(caught.value)


@pytest.mark.parametrize("status", [408, 409, 502, 504])
def test_a_submit_answer_that_does_not_say_whether_a_task_exists_is_an_unknown_outcome(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, status: int
) -> None:
    """A gateway that lost the answer, or a timeout or conflict reported mid-request: the task may exist, so this
    is never retried as if nothing had been created (the submission core decides what to do)."""
    api.post(SUBMIT_PATH).respond(status, json={"code": status, "message": "upstream", "data": None})
    with pytest.raises(SubmitOutcomeUnknown, match=f"HTTP {status}; it may have created the task"):
        adapter.submit(_job(), INPUTS)


def test_a_5xx_without_the_providers_envelope_on_submit_is_an_unknown_outcome(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter
) -> None:
    api.post(SUBMIT_PATH).respond(500, text="<html>Internal Server Error</html>")
    with pytest.raises(SubmitOutcomeUnknown):
        adapter.submit(_job(), INPUTS)


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
    ids=["connect-timeout", "read-timeout", "connect-error", "reset"],
)
def test_transport_errors_are_unavailable(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, exception: Exception
) -> None:
    api.post(SUBMIT_PATH).mock(side_effect=exception)
    api.get(RESULT_PATH).mock(side_effect=exception)
    reached_provider = isinstance(exception, httpx.ReadTimeout | httpx.RemoteProtocolError)
    with pytest.raises(SubmitOutcomeUnknown if reached_provider else ProviderUnavailable) as caught:
        adapter.submit(_job(), INPUTS)
    cause = str(caught.value)
    if reached_provider:
        # The task may exist: the submission core must never send it again blindly.
        assert "it may have created the task" in cause
    else:
        assert cause.startswith("wavespeed submit ")
    assert type(exception).__name__ in cause
    with pytest.raises(ProviderUnavailable) as caught:
        adapter.check(_job(), TaskRef(TASK))
    assert _cause(caught.value).startswith("wavespeed result query ")


def test_key_echoed_by_the_provider_never_reaches_a_cause(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter
) -> None:
    api.post(SUBMIT_PATH).respond(401, json={"code": 401, "message": "invalid api key"})
    with pytest.raises(ProviderRejected) as caught:
        adapter.submit(_job(), INPUTS)
    _cause(caught.value)


# --- result URL -----------------------------------------------------------------------------------


def test_result_url_is_the_first_output(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter) -> None:
    route = api.get(RESULT_PATH).respond(200, json=envelope("completed", outputs=[OUTPUT, OUTPUT + "?2"]))
    assert adapter.result(_job(), TaskRef(TASK)).url == OUTPUT
    assert adapter.result(_job(), TaskRef(TASK)).url == OUTPUT
    assert route.call_count == 2, "every call asks the provider again (a fresh URL)"


@pytest.mark.parametrize(("status", "outputs"), [("processing", []), ("completed", []), ("failed", [])])
def test_result_url_without_a_finished_output_is_unavailable(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter, status: str, outputs: list[str]
) -> None:
    api.get(RESULT_PATH).respond(200, json=envelope(status, outputs=outputs))
    with pytest.raises(ResultUnavailable) as caught:
        adapter.result(_job(), TaskRef(TASK))
    assert _cause(caught.value) == f"wavespeed task {TASK} has no output (status {status})"


def test_result_url_of_an_unknown_task_is_unavailable(
    api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter
) -> None:
    api.get(RESULT_PATH).respond(404, json={"code": 404, "message": "not found"})
    with pytest.raises(ResultUnavailable) as caught:
        adapter.result(_job(), TaskRef(TASK))
    assert f"task {TASK} is unknown to the provider" in _cause(caught.value)


def test_result_url_throttling_is_still_throttling(api: respx.MockRouter, adapter: wavespeed.WaveSpeedAdapter) -> None:
    api.get(RESULT_PATH).respond(429, json={"code": 429, "message": "slow down"})
    with pytest.raises(ProviderThrottled):
        adapter.result(_job(), TaskRef(TASK))
