"""Every real provider adapter, facing an error answer that echoes the request it was sent (respx), builds a cause
with no credential, no Authorization value, no signature and no presigned-URL signature in it."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from avatar_pipeline import credentials, redaction
from avatar_pipeline.capabilities import KLING_AVATAR, VOLCENGINE_OMNIHUMAN_15, WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.errors import PipelineError
from avatar_pipeline.models import Job
from avatar_pipeline.providers import kling, volcengine, wavespeed
from avatar_pipeline.providers.base import PresignedInputs, ProviderAdapter, TaskRef
from aws_lambda_powertools.utilities import parameters

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:provider"
BASE_URL = "https://provider.test"
SIGNATURE = "5d41402abc4b2a76b9719d911017c592ae2b1c9f8e7d6c5b4a39281706f5e4d3"
SECURITY_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexample"
AMZ_CREDENTIAL = "ASIAY34FZKBOKMUTVV7A"


def _presigned(key: str) -> str:
    return (
        f"https://in-bucket.s3.us-east-1.amazonaws.com/jobs/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={AMZ_CREDENTIAL}%2F20250301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250301T120000Z"
        f"&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token={SECURITY_TOKEN}&X-Amz-Signature={SIGNATURE}"
    )


INPUTS = PresignedInputs(image_url=_presigned("alice.png"), audio_url=_presigned("alice.wav"), presign=_presigned)
PRESIGNED_SECRETS = (SIGNATURE, SECURITY_TOKEN, AMZ_CREDENTIAL)
STATUSES = (400, 401, 403)
LAYOUTS = ("headers-first", "body-first", "plain-text")


@dataclass(frozen=True)
class Case:
    provider_id: str
    section: str
    entry: dict[str, str]
    adapter: Callable[[httpx.Client], ProviderAdapter]
    task: TaskRef
    envelope: Callable[[int, str, httpx.Request], dict[str, Any]]


def _wavespeed_envelope(status: int, message: str, request: httpx.Request) -> dict[str, Any]:
    return {"code": status, "message": message, "data": None}


def _kling_envelope(status: int, message: str, request: httpx.Request) -> dict[str, Any]:
    return {"code": {400: 1201, 401: 1002, 403: 1103}[status], "message": message, "request_id": "req-echo"}


def _volcengine_envelope(status: int, message: str, request: httpx.Request) -> dict[str, Any]:
    if status == 400:
        return {"code": 50200, "message": f"Invalid Parameter: {message}", "data": None, "request_id": "r-echo"}
    error = {"Code": "SignatureDoesNotMatch" if status == 401 else "AccessDenied", "Message": message}
    metadata = {"RequestId": "r-echo", "Action": request.url.params.get("Action"), "Version": "2022-08-31"}
    return {"ResponseMetadata": {**metadata, "Service": "cv", "Region": "cn-north-1", "Error": error}}


CASES = {
    "wavespeed": Case(
        "wavespeed/omnihuman-1.5",
        "wavespeed",
        {"api_key": "ws-live-3c9a1e5b2d4c6f80"},
        lambda client: wavespeed.WaveSpeedAdapter(WAVESPEED_OMNIHUMAN_15, BASE_URL, client, SECRET_ARN),
        TaskRef("pred-123"),
        _wavespeed_envelope,
    ),
    "volcengine": Case(
        "volcengine/omnihuman-1.5",
        "volcengine",
        {"access_key_id": "AKLTNzY0ZWM3YTY0ZDViNGQ", "secret_access_key": "TmpVMk5ERTFNMk0zWlRjMVpHVTQ="},
        lambda client: volcengine.VolcengineAdapter(VOLCENGINE_OMNIHUMAN_15, BASE_URL, client, SECRET_ARN),
        TaskRef("7012345678901234567", "generate"),
        _volcengine_envelope,
    ),
    "kling-api-key": Case(
        "kling/avatar",
        "kling",
        {"api_key": "kl-live-8b0d2f4a6c8e0a2c"},
        lambda client: kling.KlingAdapter(KLING_AVATAR, BASE_URL, client, SECRET_ARN, tokens=kling.JwtCache()),
        TaskRef("task-123"),
        _kling_envelope,
    ),
    "kling-jwt": Case(
        "kling/avatar",
        "kling",
        {"access_key": "kl-ak-4e6a8c0e2b4d", "secret_key": "kl-sk-1f3e5a7c9e1b3d5f7a9c0e2a4c6e8a0b"},
        lambda client: kling.KlingAdapter(KLING_AVATAR, BASE_URL, client, SECRET_ARN, tokens=kling.JwtCache()),
        TaskRef("task-123"),
        _kling_envelope,
    ),
}


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    redaction.forget_registered()
    yield
    redaction.forget_registered()


def _job(provider_id: str) -> Job:
    return Job.model_validate(
        {
            "job_id": "j-echo",
            "provider": provider_id,
            "image": {"s3": {"bucket": "in-bucket", "key": "jobs/alice.png"}},
            "audio": {"s3": {"bucket": "in-bucket", "key": "jobs/alice.wav"}},
            "request": {"image": "alice.png", "audio": "alice.wav"},
            "trigger": "console",
            "requested_at": datetime(2025, 3, 1, tzinfo=UTC),
        }
    )


def _echo(case: Case, status: int, layout: str) -> Callable[[httpx.Request], httpx.Response]:
    """The provider's error answer quoting the request as it was sent: every header and the raw body."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = json.dumps(dict(request.headers))
        body = request.content.decode() or "(empty)"
        where = f"{request.method} {request.url}"
        if layout == "body-first":
            text = f"refused {where} body {body} headers {headers}"
        else:
            text = f"refused {where} headers {headers} body {body}"
        if layout == "plain-text":
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=case.envelope(status, text, request))

    return answer


def _forbidden(case: Case, sent: list[httpx.Request]) -> list[str]:
    """Every value that must stay out of the cause: credentials, what was sent as Authorization, signatures."""
    values = [*case.entry.values(), *PRESIGNED_SECRETS]
    for request in sent:
        authorization = request.headers["Authorization"]
        values += [authorization, authorization.partition(" ")[2]]
        values += [part for part in authorization.partition(" ")[2].split(".") if len(part) > 20]  # JWT segments
        if "Signature=" in authorization:
            values.append(authorization.rpartition("Signature=")[2])
    return values


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("operation", ["submit", "result"])
@pytest.mark.parametrize("case_name", sorted(CASES))
@pytest.mark.parametrize("registered", [True, False], ids=["registered", "patterns-only"])
def test_an_echoed_request_leaves_no_secret_in_the_cause(
    monkeypatch: pytest.MonkeyPatch, case_name: str, operation: str, status: int, layout: str, registered: bool
) -> None:
    case = CASES[case_name]
    # The real credentials path (secret read, values registered); "patterns-only" stands for a value the
    # registry never saw, which the patterns alone must catch wherever it is echoed in a header.
    document = {case.section: dict(case.entry)}
    monkeypatch.setattr(parameters, "get_secret", lambda *args, **kwargs: document)
    if not registered:
        monkeypatch.setattr(credentials, "register_document", lambda document: None)
    job = _job(case.provider_id)
    with respx.mock(assert_all_called=False) as router, httpx.Client() as client:
        router.route(host="provider.test").mock(side_effect=_echo(case, status, layout))
        adapter = case.adapter(client)
        with pytest.raises(PipelineError) as caught:
            _submit_or_query(adapter, operation, job, case.task)
        sent = [call.request for call in router.calls]
    assert sent, "the adapter sent nothing"
    cause = caught.value.cause
    for value in _forbidden(case, sent):
        assert value not in cause, f"a secret survived in the {case_name} cause: {cause}"
        assert value not in str(caught.value)
    assert case.section in cause
    if operation == "submit" and layout != "plain-text" and case.section != "kling":  # Kling clips its messages
        # Still readable: the input's scheme, host and path stay; only the signed query goes.
        assert "https://in-bucket.s3.us-east-1.amazonaws.com/jobs/alice.png?[redacted]" in cause


def _submit_or_query(adapter: ProviderAdapter, operation: str, job: Job, task: TaskRef) -> None:
    if operation == "submit":
        adapter.submit(job, INPUTS)
    else:
        adapter.result(job, task)
