"""End to end through the embedded local stack: S3 drops, custom events and console inputs become verified
MP4s, through the real state machine, handlers and provider simulator."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from avatar_local.mp4info import inspect_mp4
from boto3.dynamodb.types import TypeDeserializer

from .conftest import Stack

pytestmark = pytest.mark.e2e

AUDIO_SECONDS = 2.5


def _drop_manifest(stack: Stack, folder: str, manifest: dict[str, Any], name: str = "job.json") -> str:
    key = f"{folder}/{name}"
    stack.client("s3").put_object(Bucket=stack.info["input_bucket"], Key=key, Body=json.dumps(manifest).encode())
    return key


def _assert_verified_mp4(stack: Stack, output: dict[str, Any]) -> None:
    s3 = stack.client("s3")
    bucket, _, key = output["output_uri"][len("s3://") :].partition("/")
    assert bucket == stack.info["output_bucket"]
    video = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert video[4:8] == b"ftyp"
    info = inspect_mp4(video)
    assert info.has_video
    assert info.has_audio
    assert info.size == len(video) == output["size_bytes"]
    assert abs(info.duration_seconds - AUDIO_SECONDS) < 0.2
    result_key = key.rsplit("/", 1)[0] + "/result.json"
    result = json.loads(s3.get_object(Bucket=bucket, Key=result_key)["Body"].read())
    assert result["job_id"] == output["job_id"]
    assert result["provider_task_id"] == output["provider_task_id"]
    assert result["output"]["size_bytes"] == len(video)
    assert abs(result["output"]["duration_seconds"] - AUDIO_SECONDS) < 0.2
    assert result["estimated_cost_usd"] == pytest.approx(0.15 * result["output"]["duration_seconds"], abs=0.01)


def _job_record(stack: Stack, job_id: str) -> dict[str, Any]:
    item = stack.client("dynamodb").get_item(TableName=stack.info["jobs_table"], Key={"job_id": {"S": job_id}})
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item["Item"].items()}


def test_manifest_drop_becomes_a_durable_mp4(stack: Stack) -> None:
    folder = f"jobs/manifest-{uuid.uuid4().hex[:8]}"
    stack.upload_media(folder, AUDIO_SECONDS)
    key = _drop_manifest(stack, folder, {"image": "face.png", "audio": "voice.wav", "output_prefix": "campaign-7/"})

    described = stack.wait_until_done(stack.wait_for_execution(key))

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["output_uri"] == f"s3://{stack.info['output_bucket']}/campaign-7/{output['job_id']}/video.mp4"
    _assert_verified_mp4(stack, output)
    assert _job_record(stack, output["job_id"])["status"] == "SUCCEEDED"
    events = stack.outcome_events(output["job_id"])
    assert [e["detail-type"] for e in events] == ["Avatar Video Succeeded"]
    assert events[0]["detail"]["output_uri"] == output["output_uri"]
    assert events[0]["detail"]["provider"] == "wavespeed/omnihuman-1.5"


def test_custom_event_becomes_a_durable_mp4(stack: Stack) -> None:
    folder = f"media/event-{uuid.uuid4().hex[:8]}"
    image, audio = stack.upload_media(folder, AUDIO_SECONDS)
    job_id = f"event-{uuid.uuid4().hex[:8]}"
    request = {"provider": "wavespeed/omnihuman-1.5", "image": image, "audio": audio, "job_id": job_id}
    stack.client("events").put_events(
        Entries=[
            {
                "Source": "avatar.pipeline",
                "DetailType": "Avatar Video Requested",
                "Detail": json.dumps(request),
            }
        ]
    )

    described = stack.wait_until_done(stack.wait_for_execution(job_id))

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["job_id"] == job_id
    _assert_verified_mp4(stack, output)


def test_console_input_becomes_a_durable_mp4(stack: Stack) -> None:
    folder = f"media/console-{uuid.uuid4().hex[:8]}"
    image, audio = stack.upload_media(folder, AUDIO_SECONDS)
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=stack.info["state_machine_arn"], input=json.dumps({"image": image, "audio": audio})
    )

    described = stack.wait_until_done(execution["executionArn"])

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert re.fullmatch(r"face-[0-9a-f]{8}", output["job_id"]), "named after the image, readable"
    _assert_verified_mp4(stack, output)


def test_same_s3_event_delivered_twice_creates_one_provider_task(stack: Stack) -> None:
    folder = f"jobs/twice-{uuid.uuid4().hex[:8]}"
    stack.upload_media(folder, AUDIO_SECONDS)
    key = _drop_manifest(stack, folder, {"image": "face.png", "audio": "voice.wav"})
    first_arn = stack.wait_for_execution(key)
    sfn = stack.client("stepfunctions")
    s3_event = sfn.describe_execution(executionArn=first_arn)["input"]

    # EventBridge redelivers by starting the target again with the same event.
    second = sfn.start_execution(stateMachineArn=stack.info["state_machine_arn"], input=s3_event)
    first_done, second_done = stack.wait_until_done(first_arn), stack.wait_until_done(second["executionArn"])

    assert {first_done["status"], second_done["status"]} == {"SUCCEEDED"}
    assert len(stack.submissions(folder)) == 1
    outputs = [json.loads(d["output"]) for d in (first_done, second_done)]
    (duplicate,) = [output for output in outputs if output.get("duplicate")]
    (original,) = [output for output in outputs if not output.get("duplicate")]
    job_id = original["job_id"]
    assert duplicate["duplicate_of"] == duplicate["job_id"] == job_id
    assert duplicate["note"] == "this trigger was already delivered and handled"
    assert [e["detail-type"] for e in stack.outcome_events(job_id)] == ["Avatar Video Succeeded"]


def test_failed_provider_task_ends_in_provider_task_failed(stack: Stack) -> None:
    folder = f"jobs/failing-{uuid.uuid4().hex[:8]}"
    stack.upload_media(folder, AUDIO_SECONDS)
    stack.inject(operation="submit", fault="task_failed", times=1)
    key = _drop_manifest(stack, folder, {"image": "face.png", "audio": "voice.wav"})

    described = stack.wait_until_done(stack.wait_for_execution(key))

    assert described["status"] == "FAILED"
    assert described["error"] == "ProviderTaskFailed"
    assert "simulated generation failure" in described["cause"]
    job_id = _job_id_of(stack, described)
    events = stack.outcome_events(job_id)
    assert [e["detail-type"] for e in events] == ["Avatar Video Failed"]
    assert events[0]["detail"]["error"] == "ProviderTaskFailed"
    assert "simulated generation failure" in events[0]["detail"]["cause"]
    record = _job_record(stack, job_id)
    assert record["status"] == "FAILED"
    assert record["error"] == "ProviderTaskFailed"
    assert record["provider_task_id"] == events[0]["detail"]["provider_task_id"]


def test_throttled_submit_is_retried_and_succeeds(stack: Stack) -> None:
    folder = f"jobs/throttled-{uuid.uuid4().hex[:8]}"
    stack.upload_media(folder, AUDIO_SECONDS)
    stack.inject(operation="submit", fault="throttle", times=1)
    key = _drop_manifest(stack, folder, {"image": "face.png", "audio": "voice.wav"})

    execution_arn = stack.wait_for_execution(key)
    described = stack.wait_until_done(execution_arn)

    assert described["status"] == "SUCCEEDED", described
    history = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    failures = [e for e in history["events"] if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failures] == ["ProviderThrottled"]
    assert len(stack.submissions(folder)) == 1
    _assert_verified_mp4(stack, json.loads(described["output"]))


def test_manifest_naming_missing_media_fails_with_invalid_request(stack: Stack) -> None:
    folder = f"jobs/missing-{uuid.uuid4().hex[:8]}"
    key = _drop_manifest(stack, folder, {"image": "nobody.png", "audio": "silence.wav"})

    described = stack.wait_until_done(stack.wait_for_execution(key))

    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidRequest"
    assert f"{folder}/nobody.png does not exist" in described["cause"]
    assert stack.submissions(folder) == []


def test_json_outside_jobs_folder_is_ignored(stack: Stack) -> None:
    key = f"notes/readme-{uuid.uuid4().hex[:8]}.JSON"
    stack.client("s3").put_object(Bucket=stack.info["input_bucket"], Key=key, Body=b"{}")

    described = stack.wait_until_done(stack.wait_for_execution(key))

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["accepted"] is False


def _job_id_of(stack: Stack, described: dict[str, Any]) -> str:
    history = stack.client("stepfunctions").get_execution_history(
        executionArn=described["executionArn"], maxResults=1000
    )
    for event in history["events"]:
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "Intake":
            return str(json.loads(event["stateExitedEventDetails"]["output"])["job"]["job_id"])
    raise AssertionError("Intake never finished")


@pytest.mark.parametrize(
    ("execution_input", "expected_cause", "recorded_as"),
    [
        ('"just a string"', "must be a JSON object", r"execution:{name}"),
        (
            '{"image": "s3://x/y.png", "audio": "s3://x/y.wav", "output": "typo"}',
            "output: unknown field",
            r"y-[0-9a-f]{8}",
        ),
    ],
)
def test_invalid_console_input_is_recorded_as_invalid_request(
    stack: Stack, execution_input: str, expected_cause: str, recorded_as: str
) -> None:
    sfn = stack.client("stepfunctions")
    name = f"bad-{uuid.uuid4().hex[:8]}"
    execution = sfn.start_execution(stateMachineArn=stack.info["state_machine_arn"], name=name, input=execution_input)

    described = stack.wait_until_done(execution["executionArn"])

    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidRequest"
    assert expected_cause in described["cause"]
    history = stack.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]
    claimed = next(e for e in history if e.get("stateExitedEventDetails", {}).get("name") == "Claim")
    job_id = json.loads(claimed["stateExitedEventDetails"]["output"])["ref"]["job_id"]
    assert re.fullmatch(recorded_as.replace("{name}", re.escape(name)), job_id), job_id
    record = _job_record(stack, job_id)
    assert record["status"] == "FAILED"
    assert expected_cause in record["cause"]
    events = stack.outcome_events(job_id)
    assert [e["detail"]["error"] for e in events] == ["InvalidRequest"]
