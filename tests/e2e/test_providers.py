"""Every provider id end to end on the local stack, against its own simulator protocol: a verified MP4, its
retryable errors retried, its non-retryable errors ending in the right contract error name."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from avatar_local.mp4info import inspect_mp4
from avatar_local.samples import portrait_png, speech_audio

from .conftest import Stack

pytestmark = pytest.mark.e2e

AUDIO_SECONDS = 2.5
PROVIDER_REQUESTS: dict[str, dict[str, Any]] = {
    "wavespeed/omnihuman": {},
    "wavespeed/omnihuman-1.5": {},
    "wavespeed/hunyuan-avatar": {"prompt": "speaks warmly", "seed": 42, "options": {"resolution": "720p"}},
    "volcengine/omnihuman-1.5": {
        "prompt": "speaks warmly, slow push-in",
        "seed": 7,
        "options": {"output_resolution": 720},
        "aigc_meta": {"producer_id": "studio-7", "content_propagator": "campaign-7"},
    },
    "kling/avatar": {"prompt": "nods and smiles", "options": {"mode": "pro", "watermark": True}},
}
SIMULATOR_NAME = {provider: provider.split("/")[0] for provider in PROVIDER_REQUESTS}


def _start(stack: Stack, provider: str, extra: dict[str, Any] | None = None) -> tuple[str, str]:
    folder = f"media/{provider.replace('/', '-')}-{uuid.uuid4().hex[:8]}"
    s3, bucket = stack.client("s3"), stack.info["input_bucket"]
    s3.put_object(Bucket=bucket, Key=f"{folder}/face.png", Body=portrait_png(400))
    s3.put_object(Bucket=bucket, Key=f"{folder}/voice.wav", Body=speech_audio(AUDIO_SECONDS, fmt="wav"))
    request = {
        "provider": provider,
        "image": f"s3://{bucket}/{folder}/face.png",
        "audio": f"s3://{bucket}/{folder}/voice.wav",
        **PROVIDER_REQUESTS[provider],
        **(extra or {}),
    }
    execution = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.info["state_machine_arn"], input=json.dumps(request)
    )
    return str(execution["executionArn"]), folder


def _retried_errors(stack: Stack, execution_arn: str) -> list[str]:
    history = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [
        e["lambdaFunctionFailedEventDetails"]["error"] for e in history["events"] if e["type"] == "LambdaFunctionFailed"
    ]


@pytest.mark.parametrize("provider", sorted(PROVIDER_REQUESTS))
def test_provider_produces_a_verified_mp4(stack: Stack, provider: str) -> None:
    execution_arn, folder = _start(stack, provider)

    described = stack.wait_until_done(execution_arn)

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["provider"] == provider
    bucket, _, key = output["output_uri"][len("s3://") :].partition("/")
    s3 = stack.client("s3")
    video = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    info = inspect_mp4(video)
    assert video[4:8] == b"ftyp"
    assert info.has_video
    assert info.has_audio
    assert abs(info.duration_seconds - AUDIO_SECONDS) < 0.2
    result = json.loads(s3.get_object(Bucket=bucket, Key=output["result_uri"].split("/", 3)[3])["Body"].read())
    assert result["provider"] == provider
    assert result["aigc_meta_tagged"] is (True if provider.startswith("volcengine") else None)
    assert len(stack.submissions(folder)) == 1


RETRYABLE = [
    ("wavespeed/omnihuman-1.5", {"operation": "submit", "fault": "throttle"}, "ProviderThrottled"),
    ("wavespeed/omnihuman-1.5", {"operation": "result", "fault": "server_error", "status": 503}, "ProviderUnavailable"),
    ("volcengine/omnihuman-1.5", {"operation": "submit", "fault": "throttle"}, "ProviderThrottled"),
    ("volcengine/omnihuman-1.5", {"operation": "submit", "fault": "concurrency"}, "ProviderThrottled"),
    ("volcengine/omnihuman-1.5", {"operation": "result", "fault": "server_error"}, "ProviderUnavailable"),
    ("kling/avatar", {"operation": "submit", "fault": "throttle"}, "ProviderThrottled"),
    ("kling/avatar", {"operation": "submit", "fault": "concurrency"}, "ProviderThrottled"),
    ("kling/avatar", {"operation": "result", "fault": "server_error", "status": 503}, "ProviderUnavailable"),
]


@pytest.mark.parametrize(("provider", "fault", "error"), RETRYABLE, ids=[f"{p}-{f['fault']}" for p, f, _ in RETRYABLE])
def test_retryable_errors_are_retried_and_the_job_succeeds(
    stack: Stack, provider: str, fault: dict[str, Any], error: str
) -> None:
    stack.inject(SIMULATOR_NAME[provider], times=1, **fault)
    execution_arn, folder = _start(stack, provider)

    described = stack.wait_until_done(execution_arn)

    assert described["status"] == "SUCCEEDED", described
    (submission,) = stack.submissions(folder)
    if provider == "kling/avatar" and fault["operation"] == "result":
        # Kling calls back on every status change and the webhook re-reads the task from Kling, so the first task
        # query after the create is the webhook's: it answers 503 and Kling sends the callback again.
        deliveries = [c for c in stack.simulator_stats()["callbacks"] if c["task_id"] == submission["task_id"]]
        assert [c["answered"] for c in deliveries][:2] == [503, 200], deliveries
    else:
        assert _retried_errors(stack, execution_arn) == [error]


FINAL = [
    ("wavespeed/omnihuman-1.5", {"operation": "submit", "fault": "task_failed"}, "ProviderTaskFailed"),
    ("volcengine/omnihuman-1.5", {"operation": "submit", "fault": "moderation", "code": 50411}, "ProviderRejected"),
    ("volcengine/omnihuman-1.5", {"operation": "result", "fault": "not_found"}, "ProviderTaskFailed"),
    ("volcengine/omnihuman-1.5", {"operation": "result", "fault": "expired"}, "ProviderTaskFailed"),
    ("kling/avatar", {"operation": "submit", "fault": "arrears"}, "ProviderRejected"),
    ("kling/avatar", {"operation": "submit", "fault": "content_safety"}, "ProviderRejected"),
    ("kling/avatar", {"operation": "submit", "fault": "task_failed"}, "ProviderTaskFailed"),
]


@pytest.mark.parametrize(("provider", "fault", "error"), FINAL, ids=[f"{p}-{f['fault']}" for p, f, _ in FINAL])
def test_non_retryable_errors_end_in_their_contract_name(
    stack: Stack, provider: str, fault: dict[str, Any], error: str
) -> None:
    stack.inject(SIMULATOR_NAME[provider], times=1, **fault)
    execution_arn, _ = _start(stack, provider)

    described = stack.wait_until_done(execution_arn)

    assert described["status"] == "FAILED"
    assert described["error"] == error
    assert described["cause"]
    assert error not in _retried_errors(stack, execution_arn)[:-1]


def test_volcengine_audio_over_60_seconds_is_invalid_media(stack: Stack) -> None:
    folder = f"media/long-{uuid.uuid4().hex[:8]}"
    s3, bucket = stack.client("s3"), stack.info["input_bucket"]
    s3.put_object(Bucket=bucket, Key=f"{folder}/face.png", Body=portrait_png(400))
    s3.put_object(Bucket=bucket, Key=f"{folder}/voice.wav", Body=speech_audio(61.0, fmt="wav", sample_rate=8000))
    request = {
        "provider": "volcengine/omnihuman-1.5",
        "image": f"s3://{bucket}/{folder}/face.png",
        "audio": f"s3://{bucket}/{folder}/voice.wav",
    }
    execution = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.info["state_machine_arn"], input=json.dumps(request)
    )

    described = stack.wait_until_done(execution["executionArn"])

    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidMedia"
    assert "60" in described["cause"]
