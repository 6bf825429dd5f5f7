"""The real ``LocalStack`` serving a small project written under a temporary folder, in a subprocess.

The project has what ``LocalStack`` needs (the buckets, the jobs table, the secret, a state machine and the
provider URL parameters) and what the tests of the local stack's extensions exercise: a jobs table with a global
secondary index, a TTL and a stream; ``Sleeper``, which sleeps as long as its event says and reports the time it
had left; ``Ticker``, which a ``rate(1 minute)`` schedule invokes and which writes each event it gets to the
output bucket. Run in a subprocess (as ``avatar-pipeline local up`` is by the end-to-end tests) so moto's
configuration and the stack's patches stay out of the test process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 90

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  WaveSpeedBaseUrl: {Type: String}
  VolcengineBaseUrl: {Type: String}
  KlingBaseUrl: {Type: String}
  AllowLoopbackEndpoints: {Type: String, Default: "false"}
Globals:
  Function:
    Runtime: python3.13
    Handler: app.handler
    Timeout: 10
Resources:
  InputBucket: {Type: AWS::S3::Bucket}
  OutputBucket: {Type: AWS::S3::Bucket}
  ProviderSecret: {Type: AWS::SecretsManager::Secret, Properties: {SecretString: "{}"}}
  JobsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: job_id, AttributeType: S}
        - {AttributeName: status, AttributeType: S}
        - {AttributeName: updated_at, AttributeType: N}
      KeySchema: [{AttributeName: job_id, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: by_status
          KeySchema: [{AttributeName: status, KeyType: HASH}, {AttributeName: updated_at, KeyType: RANGE}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [provider]}
          ContributorInsightsSpecification: {Enabled: false}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  SleeperFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/sleeper
      Environment:
        Variables:
          STACK_ID: !Ref AWS::StackId
          JOBS_STREAM_ARN: !GetAtt JobsTable.StreamArn
  TickerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/ticker
      Environment: {Variables: {BUCKET: !Ref OutputBucket}}
      Events:
        Tick: {Type: Schedule, Properties: {Schedule: rate(1 minute)}}
  AvatarVideoStateMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/pass.asl.json
      Policies: [{LambdaInvokePolicy: {FunctionName: !Ref SleeperFunction}}]
  BatchStateMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/pass.asl.json
"""

SLEEPER = """\
import time


def handler(event, context):
    remaining_ms = context.get_remaining_time_in_millis()
    time.sleep(event.get("seconds", 0))
    return {"remaining_ms": remaining_ms}
"""

TICKER = """\
import json
import os
import uuid

import boto3


def handler(event, context):
    key = f"ticks/{uuid.uuid4()}.json"
    boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key=key, Body=json.dumps(event).encode())
"""

PASS_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def write_project(root: Path) -> Path:
    for folder, source in (("sleeper", SLEEPER), ("ticker", TICKER)):
        (root / "functions" / folder).mkdir(parents=True)
        (root / "functions" / folder / "app.py").write_text(source, encoding="utf-8")
    (root / "statemachine").mkdir()
    (root / "statemachine" / "pass.asl.json").write_text(json.dumps(PASS_DEFINITION), encoding="utf-8")
    (root / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    return root


@dataclass
class SmallStack:
    info: dict[str, Any]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.info["endpoint_url"],
            region_name=self.info["region"],
            aws_access_key_id=self.info["access_key_id"],
            aws_secret_access_key=self.info["secret_access_key"],
        )

    def function_name(self, logical_id: str) -> str:
        names = [f["FunctionName"] for f in self.client("lambda").list_functions()["Functions"]]
        return next(name for name in names if logical_id in name)


@contextmanager
def running_stack(folder: Path, environment: dict[str, str] | None = None) -> Iterator[SmallStack]:
    """Starts the stack on the small project in ``folder``; stops it (cleanly, or the test fails) on exit."""
    project = write_project(folder / "project")
    state_dir = folder / "state"
    state_dir.mkdir()
    out = state_dir / "stack.out"
    with out.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.small_stack", str(project), str(state_dir)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(environment or {})},
        )
        try:
            stack_file = state_dir / "stack.json"
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not stack_file.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"local stack did not start:\n{out.read_text()}")
                time.sleep(0.1)
            yield SmallStack(json.loads(stack_file.read_text()))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
    assert process.returncode == 0, out.read_text()


def main() -> None:
    from avatar_local.stack import LocalStack

    project, state_dir = map(Path, sys.argv[1:3])
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    stack = LocalStack(project, state_dir=state_dir, port=0, simulator_port=0)
    try:
        stack.start()
        stopping.wait()
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
