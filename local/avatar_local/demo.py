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

from .executions import aws_client, follow_execution, print_phases, wait_for_execution
from .mp4info import inspect_mp4
from .samples import portrait_png, speech_audio
from .stack import LocalStack
from .stack_info import StackInfo

# Short polls for a provider that is polled; a provider that calls back (the default) resumes the job by its
# callback, well before the 10 s fallback check.
DEMO_PARAMETERS = {"PollMinSeconds": "1", "PollMaxSeconds": "2", "PollFirstWaitMaxSeconds": "10"}
TIMEOUT_SECONDS = 300


@contextmanager
def running_stack(
    project_root: Path, state_dir: Path, overrides: dict[str, str], ports: tuple[int, int] = (0, 0)
) -> Iterator[StackInfo]:
    stack = LocalStack(
        project_root, state_dir=state_dir, port=ports[0], simulator_port=ports[1], parameter_overrides=overrides
    )
    try:
        yield stack.start()
    finally:
        stack.stop()


def run_demo(project_root: Path, *, out_dir: Path, state_dir: Path, port: int = 0, simulator_port: int = 0) -> int:
    started = time.monotonic()
    print("starting the embedded local stack (moto + template.yaml + provider simulator)…", flush=True)
    with running_stack(project_root, state_dir, DEMO_PARAMETERS, (port, simulator_port)) as info:
        stack_seconds = time.monotonic() - started
        s3, sfn = aws_client(info, "s3"), aws_client(info, "stepfunctions")
        folder = "jobs/demo"
        s3.put_object(Bucket=info.input_bucket, Key=f"{folder}/alice.png", Body=portrait_png(512))
        s3.put_object(Bucket=info.input_bucket, Key=f"{folder}/alice.wav", Body=speech_audio(4.0, fmt="wav"))
        manifest = {
            "provider": "wavespeed/omnihuman-1.5",
            "image": "alice.png",
            "audio": "alice.wav",
            "output_prefix": "demo/",
        }
        manifest_key = f"{folder}/alice.json"
        dropped = time.monotonic()
        s3.put_object(Bucket=info.input_bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
        print(
            f"dropped s3://{info.input_bucket}/{folder}/alice.png, alice.wav and {manifest_key.rsplit('/', 1)[1]}",
            flush=True,
        )
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
        print(
            f"  downloaded to {target} ({info_mp4.size} bytes, {info_mp4.duration_seconds:.2f} s, "
            f"{info_mp4.width}x{info_mp4.height}, brand {info_mp4.major_brand})"
        )
        print("\nphase timings:")
        print(f"  {'local stack start':<22}{stack_seconds:7.2f} s")
        print_phases(phases)
        print(f"  {'drop → MP4 (total)':<22}{job_seconds:7.2f} s", flush=True)
    return 0
