"""``make demo``: a portrait and a voice track dropped into the local input bucket become an MP4.

Starts the embedded local stack, generates the media, uploads them and a manifest under ``jobs/``, follows
the execution state by state, downloads the video to ``out/`` and prints how long each phase took.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from .mp4info import inspect_mp4
from .samples import portrait_png, speech_audio
from .stack import LocalStack, StackInfo

DEMO_PARAMETERS = {"PollMinSeconds": "1", "PollMaxSeconds": "2"}
TIMEOUT_SECONDS = 300


@contextmanager
def running_stack(project_root: Path, state_dir: Path, overrides: dict[str, str]) -> Iterator[StackInfo]:
    stack = LocalStack(project_root, state_dir=state_dir, parameter_overrides=overrides)
    try:
        yield stack.start()
    finally:
        stack.stop()


def aws_client(info: StackInfo, service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=info.endpoint_url,
        region_name=info.region,
        aws_access_key_id=info.access_key_id,
        aws_secret_access_key=info.secret_access_key,
    )


def wait_for_execution(sfn: Any, state_machine_arn: str, marker: str, timeout: float) -> str:
    """The execution whose input mentions ``marker`` (EventBridge starts it under a generated name)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if marker in described.get("input", ""):
                return str(execution["executionArn"])
        time.sleep(0.2)
    raise TimeoutError(f"no execution started for {marker} within {timeout:.0f} s")


def follow_execution(sfn: Any, execution_arn: str, timeout: float) -> tuple[dict[str, Any], list[tuple[str, float]]]:
    """Prints each state as it is entered; returns the final description and (state, seconds) per state."""
    deadline = time.monotonic() + timeout
    seen = 0
    entered: dict[str, float] = {}
    phases: list[tuple[str, float]] = []
    while True:
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        for event in events[seen:]:
            stamp = event["timestamp"].timestamp()
            if event["type"].endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                entered[name] = stamp
                print(f"  → {name}", flush=True)
            elif event["type"].endswith("StateExited"):
                name = event["stateExitedEventDetails"]["name"]
                phases.append((name, stamp - entered.get(name, stamp)))
        seen = len(events)
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described, phases
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still running after {timeout:.0f} s")
        time.sleep(0.25)


def run_demo(project_root: Path, *, out_dir: Path, state_dir: Path) -> int:
    started = time.monotonic()
    print("starting the embedded local stack (moto + template.yaml + provider simulator)…", flush=True)
    with running_stack(project_root, state_dir, DEMO_PARAMETERS) as info:
        stack_seconds = time.monotonic() - started
        s3, sfn = aws_client(info, "s3"), aws_client(info, "stepfunctions")
        folder = "jobs/demo"
        s3.put_object(Bucket=info.input_bucket, Key=f"{folder}/alice.png", Body=portrait_png(512))
        s3.put_object(Bucket=info.input_bucket, Key=f"{folder}/alice.wav", Body=speech_audio(4.0, fmt="wav"))
        manifest = {"provider": "wavespeed/omnihuman-1.5", "image": "alice.png", "audio": "alice.wav", "output_prefix": "demo/"}
        manifest_key = f"{folder}/alice.json"
        dropped = time.monotonic()
        s3.put_object(Bucket=info.input_bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
        print(f"dropped s3://{info.input_bucket}/{folder}/alice.png, alice.wav and {manifest_key.rsplit('/', 1)[1]}", flush=True)
        execution_arn = wait_for_execution(sfn, info.state_machine_arn, manifest_key, 30)
        print(f"execution {execution_arn.rsplit(':', 1)[1]} started by the S3 event:", flush=True)
        described, phases = follow_execution(sfn, execution_arn, TIMEOUT_SECONDS)
        job_seconds = time.monotonic() - dropped
        if described["status"] != "SUCCEEDED":
            print(f"job {described['status']}: {described.get('error')}: {described.get('cause')}", flush=True)
            return 1
        output = json.loads(described["output"])
        bucket, _, key = output["output_uri"][len("s3://") :].partition("/")
        video = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        info_mp4 = inspect_mp4(video)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{output['job_id']}.mp4"
        target.write_bytes(video)
        print(f"\nvideo: {output['output_uri']}\n  result.json: {output['result_uri']}")
        print(f"  downloaded to {target} ({info_mp4.size} bytes, {info_mp4.duration_seconds:.2f} s, "
              f"{info_mp4.width}x{info_mp4.height}, brand {info_mp4.major_brand})")
        print("\nphase timings:")
        print(f"  {'local stack start':<22}{stack_seconds:7.2f} s")
        totals: dict[str, float] = {}
        for name, seconds in phases:
            totals[name] = totals.get(name, 0.0) + seconds
        for name, seconds in totals.items():
            print(f"  {name:<22}{seconds:7.2f} s")
        print(f"  {'drop → MP4 (total)':<22}{job_seconds:7.2f} s", flush=True)
    return 0
