"""Batches on the local stack (contract: Batches): a JSONL or CSV file under batches/ becomes one job per row through
the real batch state machine (Distributed Map reading the normalised rows), a bad row fails alone naming its row, the
reports and the Avatar Batch Completed event follow, and a re-drop pays only for the rows that had failed."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from avatar_local.samples import portrait_png

from .conftest import ROOT, Stack

pytestmark = pytest.mark.e2e


def run_batch(stack: Stack, key: str, body: bytes, timeout: float = 240) -> dict[str, Any]:
    """Drops the file and follows the batch execution it starts; the execution's description."""
    before = {execution["executionArn"] for execution in _executions(stack)}
    stack.client("s3").put_object(Bucket=stack.info["input_bucket"], Key=key, Body=body)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        started = [execution for execution in _executions(stack) if execution["executionArn"] not in before]
        if started:
            return stack.wait_until_done(started[0]["executionArn"], timeout=timeout)
        time.sleep(0.3)
    raise AssertionError(f"no batch execution started for {key}")


def _executions(stack: Stack) -> list[dict[str, Any]]:
    machine = stack.info["batch_state_machine_arn"]
    return list(stack.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"])


def report(stack: Stack, described: dict[str, Any]) -> dict[str, Any]:
    output = json.loads(described["output"])
    uri = output["report"]["report_uri"]
    bucket, _, key = uri[len("s3://") :].partition("/")
    return dict(json.loads(stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_a_jsonl_batch_runs_every_row_and_a_bad_row_fails_alone(stack: Stack) -> None:
    run = uuid.uuid4().hex[:8]
    folder = f"batches/spring-{run}"
    stack.upload_media(folder)
    rows = [
        {"image": "face.png", "audio": "voice.wav"},
        {"image": "face.png", "audio": "voice.wav", "colour": "red"},
        {"image": "face.png", "audio": "voice.wav", "output_prefix": "v2/"},
    ]
    body = "\n".join(json.dumps(row) for row in rows).encode() + b"\n[1, 2]\n"
    described = run_batch(stack, f"{folder}/lessons.jsonl", body)

    assert described["status"] == "SUCCEEDED", described
    found = report(stack, described)
    assert found["counts"]["SUCCEEDED"] == 2
    assert found["counts"]["FAILED"] == 2
    entries = {entry["row"]: entry for entry in found["entries"]}
    assert entries[2]["error"] == "InvalidRequest"
    assert "row 2 is not a valid job request" in entries[2]["cause"]
    assert "colour: unknown field" in entries[2]["cause"]
    assert "row 4: not a JSON object" in entries[4]["cause"]
    assert entries[1]["output_uri"].endswith(f"/{entries[1]['job_id']}/video.mp4")
    assert len(stack.submissions(folder)) == 2, "the bad rows paid nothing"
    (event,) = [e for e in stack.batch_events() if e["detail"]["batch_id"] == found["batch"]["batch_id"]]
    assert event["detail"]["counts"]["FAILED"] == 2
    assert event["detail"]["report_uri"] == json.loads(described["output"])["report"]["report_uri"]
    lambda_log = Path(stack.info["lambda_log"]).read_text(encoding="utf-8").splitlines()
    heard_as_a_drop = [line for line in lambda_log if "trigger ignored" in line and found["batch"]["batch_id"] in line]
    assert heard_as_a_drop == [], "writing the rows for the Map started no job execution"


def test_a_csv_batch_with_option_columns_and_a_re_drop_that_pays_only_for_the_failed_row(stack: Stack) -> None:
    run = uuid.uuid4().hex[:8]
    folder = f"batches/autumn-{run}"
    stack.upload_media(folder)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["provider", "image", "audio", "prompt", "options.resolution"])
    writer.writerow(["wavespeed/hunyuan-avatar", "face.png", "voice.wav", "smiles, slow push-in", "720p"])
    writer.writerow(["wavespeed/omnihuman-1.5", "missing.png", "voice.wav", "", ""])
    body = buffer.getvalue().encode()

    first = report(stack, run_batch(stack, f"{folder}/clips.CSV", body))
    assert (first["counts"]["SUCCEEDED"], first["counts"]["FAILED"]) == (1, 1)
    assert "missing.png does not exist" in next(e["cause"] for e in first["entries"] if e["row"] == 2)
    assert len(stack.submissions(folder)) == 1

    stack.client("s3").put_object(
        Bucket=stack.info["input_bucket"], Key=f"{folder}/missing.png", Body=portrait_png(320, seed=5)
    )
    again = report(stack, run_batch(stack, f"{folder}/clips.CSV", body))

    assert again["batch"]["batch_id"] != first["batch"]["batch_id"], "each drop is its own batch run"
    assert again["counts"]["SUCCEEDED"] == 2
    assert [e["job_id"] for e in again["entries"]] == [e["job_id"] for e in first["entries"]]
    assert [e["attempt"] for e in again["entries"]] == [1, 2], "the finished row was not run again"
    assert len(stack.submissions(folder)) == 2, "only the failed row was paid for again"


@pytest.mark.parametrize("sample", ["batch.jsonl", "batch.csv"])
def test_the_batch_samples_run_through_local_send(stack: Stack, sample: str) -> None:
    state_dir = Path(stack.info["lambda_log"]).parent
    command = [
        sys.executable,
        "-m",
        "avatar_local.cli",
        "local",
        "send",
        f"events/{sample}",
        "--state-dir",
        str(state_dir),
    ]
    sent = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    assert sent.returncode == 0, sent.stdout + sent.stderr
    report = json.loads(sent.stdout[sent.stdout.index("{") :])
    assert report["counts"]["SUCCEEDED"] == report["rows"] == 2
