"""ValidateMedia and PersistResult read their download limits from the environment (once, in the handler)
and from the Lambda context, and hand them to the library."""

import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from avatar_pipeline.models import PersistedResult, ValidatedMedia
from avatar_pipeline.persistence import DEFAULT_MAX_RESULT_BYTES
from avatar_pipeline.pricing import PriceBook
from avatar_pipeline.signed_output import SignerFunction

from tests.integration.test_persistence import make_job, make_media, make_task

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
POWERTOOLS_ENV = {
    "POWERTOOLS_SERVICE_NAME": "avatar-pipeline",
    "POWERTOOLS_METRICS_NAMESPACE": "Test",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@dataclass
class Context:
    remaining_millis: int
    function_name: str = "avatar-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:avatar-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"avatar_settings_{name}", ROOT / "functions" / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def handler_env(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in POWERTOOLS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("PROVIDER_TIMEOUT_SECONDS", "MAX_RESULT_BYTES", "ALLOW_LOOPBACK_ENDPOINTS", "KLING_USD_PER_UNIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROVIDER_PRICES", "volcengine/omnihuman-1.5=0.14,kling/avatar=0.1")
    monkeypatch.setenv("OUTPUT_BUCKET", "avatar-output")
    monkeypatch.setenv("INPUT_BUCKET", "avatar-input")
    monkeypatch.setenv("WAVESPEED_BASE_URL", "https://wavespeed.test")
    monkeypatch.setenv("VOLCENGINE_BASE_URL", "https://volcengine.test")
    monkeypatch.setenv("KLING_BASE_URL", "https://kling.test")
    secret = boto3.client("secretsmanager").create_secret(
        Name="provider", SecretString=json.dumps({"wavespeed": {"api_key": "k"}})
    )
    monkeypatch.setenv("PROVIDER_SECRET_ARN", secret["ARN"])
    monkeypatch.setenv("AIGC_CONTENT_PRODUCER", "Studio 9131")
    monkeypatch.setenv("AIGC_CONTENT_PROPAGATOR", "Studio CDN")
    monkeypatch.setenv("SIGNER_FUNCTION", "avatar-sign-video")


def persisted() -> PersistedResult:
    return PersistedResult(
        bucket="avatar-output",
        video_key="v.mp4",
        result_key="result.json",
        video_uri="s3://avatar-output/v.mp4",
        result_uri="s3://avatar-output/result.json",
        size_bytes=1,
        crc32="AAAAAA==",
        duration_seconds=None,
        estimated_cost_usd=None,
        persisted_at=datetime(2025, 3, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("env", "read_timeout", "max_bytes", "usd_per_unit"),
    [
        ({}, 30.0, DEFAULT_MAX_RESULT_BYTES, 0.0),
        (
            {"PROVIDER_TIMEOUT_SECONDS": "45", "MAX_RESULT_BYTES": "1048576", "KLING_USD_PER_UNIT": "0.5"},
            45.0,
            2**20,
            0.5,
        ),
    ],
    ids=["defaults", "configured"],
)
def test_persist_result_is_given_the_size_cap_read_timeout_and_time_left(
    handler_env: None,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    read_timeout: float,
    max_bytes: int,
    usd_per_unit: float,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    handler = load("persist_result")
    given: dict[str, Any] = {}

    def fake_persist_result(*args: Any, **kwargs: Any) -> PersistedResult:
        given.update(kwargs)
        return persisted()

    monkeypatch.setattr(handler, "persist_result", fake_persist_result)
    event = {
        "job": make_job().model_dump(mode="json"),
        "task": make_task().model_dump(mode="json"),
        "media": make_media().model_dump(mode="json"),
    }
    handler.lambda_handler(event, Context(remaining_millis=600_000))
    assert given["max_result_bytes"] == max_bytes
    assert given["read_timeout_seconds"] == read_timeout
    assert given["seconds_left"] == pytest.approx(600.0)
    # The stack's prices, to price the finished job (result.json's costs).
    stack_prices = {"volcengine/omnihuman-1.5": 0.14, "kling/avatar": 0.1}
    assert given["prices"] == PriceBook(per_second=stack_prices, kling_usd_per_unit=usd_per_unit)
    # AigcLabel defaults to required; no c2pa entry in the secret, so no signer.
    finishing = given["finishing"]
    assert (finishing.label.ContentProducer, finishing.label.ProduceID) == ("Studio 9131", make_job().job_id)
    assert finishing.signer is None


def test_persist_result_signs_when_the_secret_holds_a_chain_and_labels_unless_off(
    handler_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(
        SecretId=os.environ["PROVIDER_SECRET_ARN"],
        SecretString=json.dumps({"c2pa": {"certificate_chain": "CHAIN PEM", "private_key": "KEY PEM"}}),
    )
    monkeypatch.setenv("AIGC_LABEL", "off")
    handler = load("persist_result")
    given: dict[str, Any] = {}
    monkeypatch.setattr(handler, "persist_result", lambda *a, **kw: given.update(kw) or persisted())
    event = {
        "job": make_job().model_dump(mode="json"),
        "task": make_task().model_dump(mode="json"),
        "media": make_media().model_dump(mode="json"),
    }
    handler.lambda_handler(event, Context(remaining_millis=600_000))
    finishing = given["finishing"]
    assert finishing.label is None
    # SignVideo reads the key itself: PersistResult passes on only which function signs, and the generator.
    assert finishing.signer == SignerFunction("avatar-sign-video", generator=make_job().provider)


def test_validate_media_is_given_the_read_timeout(handler_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_TIMEOUT_SECONDS", "7")
    handler = load("validate_media")
    given: dict[str, Any] = {}

    def fake_validate_media(*args: Any, **kwargs: Any) -> ValidatedMedia:
        given.update(kwargs)
        return make_media()

    monkeypatch.setattr(handler, "validate_media", fake_validate_media)
    handler.lambda_handler({"job": make_job().model_dump(mode="json")}, Context(remaining_millis=60_000))
    assert given["read_timeout_seconds"] == 7.0
