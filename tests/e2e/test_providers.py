"""Every provider id end to end on the local stack, against its own simulator protocol: a verified MP4, its
retryable errors retried, its non-retryable errors ending in the right contract error name."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import av
import pytest
from avatar_local.mp4info import inspect_mp4
from avatar_local.samples import portrait_png, speech_audio
from avatar_local.simulator.mp4_variants import VARIANTS
from content_signing.manifests import read_manifest

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
def test_provider_produces_a_verified_mp4(stack: Stack, provider: str, tmp_path: Path) -> None:
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
    meta = PROVIDER_REQUESTS[provider].get("aigc_meta", {})
    expected_label = {
        "Label": "1",
        "ContentProducer": "avatar-pipeline",  # the stack's AigcContentProducer
        "ProduceID": meta.get("producer_id", result["job_id"]),
        "ReservedCode1": "",
        "ContentPropagator": meta.get("content_propagator", "avatar-pipeline"),
        "PropagateID": "",
        "ReservedCode2": "",
    }
    with av.open(io.BytesIO(video)) as container:
        assert json.loads(container.metadata["AIGC"]) == expected_label
        assert sum(1 for _ in container.decode(video=0)) > 0
    assert result["aigc_label"] == {"fields": expected_label, "provider_tagged": result["aigc_meta_tagged"]}
    _assert_signed(stack, video, provider, result, tmp_path)


def _assert_signed(stack: Stack, video: bytes, provider: str, result: dict[str, Any], tmp_path: Path) -> None:
    """Signed with the local stack's own C2PA test chain, and valid against its root."""
    path = tmp_path / "video.mp4"
    path.write_bytes(video)
    report = read_manifest(path, trust_anchors_pem=Path(stack.info["c2pa_trust_anchor"]).read_text())
    assert report is not None
    assert report.trusted, report.failures
    assert report.generator.startswith(provider)
    assert report.actions[0].action == "c2pa.created"
    assert report.actions[0].digital_source_type.endswith("/trainedAlgorithmicMedia")
    assert result["c2pa"] == report.label


def _demuxed(video: bytes) -> list[tuple[int, bytes]]:
    with av.open(io.BytesIO(video)) as container:
        return [(packet.stream.index, bytes(packet)) for packet in container.demux() if packet.size]


@pytest.mark.parametrize("layout", [name for name in VARIANTS if name != "moov_first"])
def test_every_layout_a_provider_returns_is_stored_labelled(stack: Stack, layout: str, tmp_path: Path) -> None:
    """The simulator serves its rendered video in ``layout``; the stored video.mp4 carries the label, and its
    packets are the ones the simulator served (stream bytes unchanged, nothing re-encoded)."""
    provider = "wavespeed/omnihuman-1.5"
    with stack.simulator_settings(result_layout={"wavespeed": layout}):
        execution_arn, _folder = _start(stack, provider)
        described = stack.wait_until_done(execution_arn)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    bucket, _, key = output["output_uri"][len("s3://") :].partition("/")
    s3 = stack.client("s3")
    video = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with av.open(io.BytesIO(video)) as container:
        assert json.loads(container.metadata["AIGC"])["ProduceID"] == output["job_id"]
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == round(AUDIO_SECONDS * 15)  # the renderer's 15 fps, as long as the voice
    prefix = f"staging/{output['job_id']}/"
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 0  # all deleted once video.mp4 is stored
    versions = s3.list_object_versions(Bucket=bucket, Prefix=prefix).get("Versions", [])
    # The provider's file as it came (and the labelled and signed files), kept until the lifecycle rule expires them.
    staged = [version for version in versions if version["Key"].endswith("/provider.mp4")]
    assert len(staged) == 1
    assert sorted(version["Key"].rpartition("/")[2] for version in versions) == [
        "labelled.mp4",
        "provider.mp4",
        "signed.mp4",
    ]
    provider_file = s3.get_object(Bucket=bucket, Key=staged[0]["Key"], VersionId=staged[0]["VersionId"])["Body"]
    assert _demuxed(video) == _demuxed(provider_file.read())
    result = json.loads(s3.get_object(Bucket=bucket, Key=output["result_uri"].split("/", 3)[3])["Body"].read())
    _assert_signed(stack, video, provider, result, tmp_path)


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
