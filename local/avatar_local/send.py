"""``avatar-pipeline local send EVENT_FILE``: feeds a sample from ``events/`` to the running local stack
through the entry point it belongs to, and follows the execution it starts.

- an S3 "Object Created" event: the manifest (``events/manifest.json``) and sample media are dropped at
  the event's key, so S3 → EventBridge → Step Functions delivers it for real;
- a PutEvents entries list: sent to the default event bus;
- a ``.csv`` or ``.jsonl`` batch file: dropped under ``batches/samples/`` beside sample media; the batch execution
  is followed and the report's counts printed;
- anything else is a job request: it becomes the input of StartExecution, as from the console.

``${InputBucket}`` in a sample is replaced with the local input bucket.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

from .executions import aws_client, follow_execution, print_phases, wait_for_execution
from .operator.target import UsageError
from .samples import portrait_png, speech_audio
from .stack_info import StackInfo

SAMPLE_FOLDERS = ("samples", "jobs/samples")
BATCH_FOLDER = "batches/samples"
BATCH_SUFFIXES = (".csv", ".jsonl")


def upload_samples(info: StackInfo) -> None:
    s3 = aws_client(info, "s3")
    for folder in SAMPLE_FOLDERS:
        s3.put_object(Bucket=info.input_bucket, Key=f"{folder}/alice.png", Body=portrait_png(512))
        s3.put_object(Bucket=info.input_bucket, Key=f"{folder}/alice.wav", Body=speech_audio(4.0, fmt="wav"))


def send(event_file: Path, *, state_dir: Path, timeout: float = 300) -> int:
    try:
        info = StackInfo.load(state_dir)
    except (FileNotFoundError, TypeError, ValueError) as error:
        raise UsageError(f"no local stack: {error}") from error
    if not event_file.is_file():
        raise UsageError(f"no such event file {event_file}")
    if event_file.suffix.lower() in BATCH_SUFFIXES:
        return _send_batch(info, event_file, timeout)
    try:
        document: Any = json.loads(event_file.read_text(encoding="utf-8").replace("${InputBucket}", info.input_bucket))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{event_file} is not JSON: {error}") from error
    upload_samples(info)
    sfn = aws_client(info, "stepfunctions")
    if isinstance(document, dict) and document.get("source") == "aws.s3":
        key = document["detail"]["object"]["key"]
        manifest = (event_file.parent / "manifest.json").read_text(encoding="utf-8")
        folder = posixpath.dirname(key)
        if folder not in SAMPLE_FOLDERS:
            s3 = aws_client(info, "s3")
            for name, body in (("alice.png", portrait_png(512)), ("alice.wav", speech_audio(4.0, fmt="wav"))):
                s3.put_object(Bucket=info.input_bucket, Key=f"{folder}/{name}", Body=body)
        aws_client(info, "s3").put_object(Bucket=info.input_bucket, Key=key, Body=manifest.encode())
        print(f"dropped s3://{info.input_bucket}/{key}")
        execution_arn = wait_for_execution(sfn, info.state_machine_arn, key, 30)
    elif isinstance(document, list):
        sent = aws_client(info, "events").put_events(Entries=document)
        print(f"sent {len(document)} event(s) to the default bus")
        # The event's id is in the input of the execution it starts (a fixed job_id may have run before).
        execution_arn = wait_for_execution(sfn, info.state_machine_arn, sent["Entries"][0]["EventId"], 30)
    else:
        execution_arn = sfn.start_execution(stateMachineArn=info.state_machine_arn, input=json.dumps(document))[
            "executionArn"
        ]
        print("started an execution with the job request as input")
    described, phases = follow_execution(sfn, execution_arn, timeout)
    print_phases(phases)
    if described["status"] != "SUCCEEDED":
        print(f"{described['status']}: {described.get('error')}: {described.get('cause')}")
        return 1
    print(json.dumps(json.loads(described["output"]), indent=2))
    return 0


def _send_batch(info: StackInfo, batch_file: Path, timeout: float) -> int:
    s3, sfn = aws_client(info, "s3"), aws_client(info, "stepfunctions")
    s3.put_object(Bucket=info.input_bucket, Key=f"{BATCH_FOLDER}/alice.png", Body=portrait_png(512))
    s3.put_object(Bucket=info.input_bucket, Key=f"{BATCH_FOLDER}/alice.wav", Body=speech_audio(4.0, fmt="wav"))
    key = f"{BATCH_FOLDER}/{batch_file.name}"
    s3.put_object(Bucket=info.input_bucket, Key=key, Body=batch_file.read_bytes())
    print(f"dropped s3://{info.input_bucket}/{key}")
    marker = s3.head_object(Bucket=info.input_bucket, Key=key)["ETag"].strip('"')
    execution_arn = wait_for_execution(sfn, info.batch_state_machine_arn, marker, 30)
    described, phases = follow_execution(sfn, execution_arn, timeout)
    print_phases(phases)
    if described["status"] != "SUCCEEDED":
        print(f"{described['status']}: {described.get('error')}: {described.get('cause')}")
        return 1
    report = json.loads(described["output"])["report"]
    print(json.dumps(report, indent=2))
    return 0 if report["counts"]["SUCCEEDED"] == report["rows"] else 1
