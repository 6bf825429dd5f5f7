"""The embedded local stack, started once per session through its public interface
(``avatar-pipeline local up``), with tiny waits so polling costs seconds, not minutes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import httpx
import pytest
from avatar_local.call_recorder import LOG_VARIABLE
from avatar_local.policy import inventory
from avatar_local.samples import portrait_png, speech_audio
from boto3.dynamodb.types import TypeDeserializer

ROOT = Path(__file__).resolve().parents[2]
E2E_OVERRIDES = [
    "PollMinSeconds=1",
    "PollMaxSeconds=1",
    # The simulator generates in ~2 s; the profile estimates ~6 s per audio second.
    "PollFirstWaitMaxSeconds=1",
    "MaxPolls=60",
    "JobDeadlineSeconds=300",
    "ProviderTimeoutSeconds=3",
    # Small enough for the admission tests to fill; the other tests run one job at a time.
    "ProviderConcurrency=wavespeed=3,volcengine=2,kling=2",
]
STARTUP_TIMEOUT = 120
INVENTORY = ROOT / "policy" / "calls.json"


@dataclass
class Stack:
    info: dict[str, Any]
    events_queue_url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.info["endpoint_url"],
            region_name=self.info["region"],
            aws_access_key_id=self.info["access_key_id"],
            aws_secret_access_key=self.info["secret_access_key"],
        )

    @property
    def simulator(self) -> str:
        return str(self.info["simulator_url"])

    def inject(self, provider: str = "wavespeed", **fault: Any) -> None:
        httpx.post(f"{self.simulator}/_simulator/faults", json={"provider": provider, **fault}).raise_for_status()

    def upload_media(self, folder: str, audio_seconds: float = 2.0) -> tuple[str, str]:
        """A portrait and a voice track as ``<folder>/face.png`` and ``voice.wav``; their ``s3://`` URIs."""
        s3, bucket = self.client("s3"), self.info["input_bucket"]
        s3.put_object(Bucket=bucket, Key=f"{folder}/face.png", Body=portrait_png(320))
        s3.put_object(Bucket=bucket, Key=f"{folder}/voice.wav", Body=speech_audio(audio_seconds, fmt="wav"))
        return f"s3://{bucket}/{folder}/face.png", f"s3://{bucket}/{folder}/voice.wav"

    def start(self, request: dict[str, Any], name: str | None = None) -> str:
        """A console start of the job state machine; its execution ARN."""
        kwargs = {"name": name} if name else {}
        started = self.client("stepfunctions").start_execution(
            stateMachineArn=self.info["state_machine_arn"], input=json.dumps(request), **kwargs
        )
        return str(started["executionArn"])

    def job_record(self, job_id: str) -> dict[str, Any]:
        item = self.client("dynamodb").get_item(
            TableName=self.info["jobs_table"], Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        deserializer = TypeDeserializer()
        return {name: deserializer.deserialize(value) for name, value in item.get("Item", {}).items()}

    def simulator_stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.simulator}/_simulator/stats").json())

    @contextmanager
    def simulator_settings(self, **changes: Any) -> Iterator[None]:
        """Simulator settings for the duration of a block (per-provider ones as ``{"wavespeed": value}``)."""
        url = f"{self.simulator}/_simulator/settings"
        before = httpx.get(url).json()
        httpx.post(url, json=changes).raise_for_status()
        try:
            yield
        finally:
            httpx.post(url, json={name: before[name] for name in changes}).raise_for_status()

    def submissions(self, marker: str) -> list[dict[str, Any]]:
        """Provider submissions whose image URL names ``marker`` (a key prefix), as sent or URL-encoded."""
        stats = httpx.get(f"{self.simulator}/_simulator/stats").json()
        forms = {marker, quote(marker), quote(marker, safe="")}
        return [s for s in stats["submissions"] if any(form in s["image"] for form in forms)]

    def wait_for_execution(self, marker: str, timeout: float = 30) -> str:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        forms = {marker, json.dumps(marker)[1:-1]}  # the input is JSON: non-ASCII keys arrive escaped
        while time.monotonic() < deadline:
            for execution in sfn.list_executions(stateMachineArn=self.info["state_machine_arn"])["executions"]:
                execution_input = sfn.describe_execution(executionArn=execution["executionArn"]).get("input", "")
                if any(form in execution_input for form in forms):
                    return str(execution["executionArn"])
            time.sleep(0.2)
        raise AssertionError(f"no execution started for {marker}")

    def wait_until_done(self, execution_arn: str, timeout: float = 120) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return dict(described)
            time.sleep(0.25)
        raise AssertionError(f"{execution_arn} still running after {timeout} s")

    def outcome_events(self, job_id: str, timeout: float = 10) -> list[dict[str, Any]]:
        """Outcome events seen so far for ``job_id`` (waits until at least one arrived)."""
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in messages.get("Messages", []):
                event = json.loads(message["Body"])
                _seen_events.append(event)
                sqs.delete_message(QueueUrl=self.events_queue_url, ReceiptHandle=message["ReceiptHandle"])
            found = [e for e in _seen_events if e["detail"].get("job_id") == job_id]
            if found:
                return found
        return found

    def batch_events(self, timeout: float = 10) -> list[dict[str, Any]]:
        """``Avatar Batch Completed`` events seen so far (waits until at least one arrived)."""
        deadline = time.monotonic() + timeout
        while True:
            self.outcome_events("", timeout=1)
            found = [e for e in _seen_events if e["detail-type"] == "Avatar Batch Completed"]
            if found or time.monotonic() > deadline:
                return found


_seen_events: list[dict[str, Any]] = []
_started_stacks: list[Path] = []


@pytest.fixture(scope="session")
def call_log(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Where every e2e stack records the AWS calls its functions, state machines and rules make: given to each stack
    as it starts (``local_stack``), as the session's stack starts before any package fixture could set it. None when
    the caller records them itself (``make policy-inventory`` sets the variable for every process)."""
    if os.environ.get(LOG_VARIABLE):
        return None
    return tmp_path_factory.mktemp("calls") / "calls.jsonl"


@pytest.fixture(scope="package", autouse=True)
def recorded_calls(call_log: Path | None) -> Iterator[None]:
    """When the e2e tests end, each call the stacks recorded (normalized) must be in policy/calls.json. The
    integration tests' own small stacks (test templates) start without the log and record nothing."""
    yield
    if call_log is None or not _started_stacks:
        return
    recorded = inventory.normalized_calls([call_log]) if call_log.exists() else []
    if not recorded:
        stacks = len(_started_stacks)
        pytest.fail(f"{stacks} local stack(s) ran, yet {call_log} holds no AWS call: the recorder is broken")
    absent = inventory.missing(recorded, inventory.load_inventory(INVENTORY))
    if absent:
        pytest.fail(inventory.describe_missing(absent, INVENTORY), pytrace=False)


@contextmanager
def local_stack(state_dir: Path, overrides: list[str], call_log: Path | None = None) -> Iterator[Stack]:
    """``avatar-pipeline local up`` with these parameter overrides, recording its AWS calls in ``call_log`` if one
    is given, until the block ends."""
    command = [
        sys.executable,
        "-m",
        "avatar_local.cli",
        "local",
        "up",
        "--port",
        "0",
        "--simulator-port",
        "0",
        "--state-dir",
        str(state_dir),
        "--parameter-overrides",
        *overrides,
    ]
    log = (state_dir / "stack.out").open("w")
    _started_stacks.append(state_dir)
    env = {**os.environ, **({LOG_VARIABLE: str(call_log)} if call_log is not None else {})}
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    stack_file = state_dir / "stack.json"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not stack_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"local stack did not start:\n{(state_dir / 'stack.out').read_text()}")
        time.sleep(0.2)
    info = json.loads(stack_file.read_text())
    httpx.post(f"{info['simulator_url']}/_simulator/settings", json={"task_seconds": 1.0}).raise_for_status()
    probe = Stack(info, "")
    sqs, events = probe.client("sqs"), probe.client("events")
    queue_url = sqs.create_queue(QueueName=f"outcomes-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="e2e-outcomes",
        EventPattern=json.dumps(
            {
                "source": ["avatar.pipeline"],
                "detail-type": ["Avatar Video Succeeded", "Avatar Video Failed", "Avatar Batch Completed"],
            }
        ),
    )
    events.put_targets(Rule="e2e-outcomes", Targets=[{"Id": "queue", "Arn": queue_arn}])
    try:
        yield Stack(info, queue_url)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            log.close()
        assert process.returncode == 0, (state_dir / "stack.out").read_text()
        assert not stack_file.exists(), "local up must remove stack.json when it stops"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, call_log: Path | None) -> Iterator[Stack]:
    with local_stack(tmp_path_factory.mktemp("local-stack"), E2E_OVERRIDES, call_log) as started:
        yield started


def wait_until(condition: Any, timeout: float = 60, what: str = "condition") -> Any:
    """``condition()``'s first truthy value, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout} s")
