"""The call recorder against a moto server (its own process): what each call writes, and what it never writes."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from avatar_local.call_recorder import LOG_VARIABLE, PRINCIPAL_VARIABLE, CallRecorder, install
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

REGION = "us-east-1"
TASK_TOKEN = "AAAAKgAAAAIAAAAAAAAAAtask-token-never-logged"
SECRET_VALUE = '{"api_key": "secret-value-never-logged"}'
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, **CREDENTIALS)  # type: ignore[call-overload]


def _lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _exercise(endpoint: str) -> None:
    s3 = _client("s3", endpoint)
    s3.create_bucket(Bucket="inputs")
    s3.put_object(Bucket="inputs", Key="jobs/a/face.png", Body=b"png")
    with pytest.raises(ClientError):
        s3.head_object(Bucket="inputs", Key="jobs/a/missing.png")
    upload = s3.create_multipart_upload(Bucket="inputs", Key="out/video.mp4")["UploadId"]
    part = s3.upload_part(Bucket="inputs", Key="out/video.mp4", UploadId=upload, PartNumber=1, Body=b"mp4")
    s3.complete_multipart_upload(
        Bucket="inputs",
        Key="out/video.mp4",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    s3.copy_object(Bucket="inputs", Key="copy.png", CopySource="inputs/jobs/a/face.png?versionId=null")
    s3.generate_presigned_url("get_object", Params={"Bucket": "inputs", "Key": "jobs/a/face.png"}, ExpiresIn=60)

    dynamodb = _client("dynamodb", endpoint)
    dynamodb.create_table(
        TableName="jobs",
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "jobs", "Item": {"job_id": {"S": "job-item-never-logged"}}}},
            {"ConditionCheck": {"TableName": "jobs", "Key": {"job_id": {"S": "b"}}, "ConditionExpression": "1=1"}},
        ]
    )

    with contextlib.suppress(ClientError):  # plain moto may accept any token
        _client("stepfunctions", endpoint).send_task_success(taskToken=TASK_TOKEN, output="{}")

    secrets = _client("secretsmanager", endpoint)
    arn = secrets.create_secret(Name="providers", SecretString=SECRET_VALUE)["ARN"]
    assert secrets.get_secret_value(SecretId=arn)["SecretString"] == SECRET_VALUE


def test_each_call_is_one_line_naming_only_its_resources(endpoint: str, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    recorder = CallRecorder(str(log), lambda: "SubmitJobFunction")
    uninstall = install(recorder)
    try:
        _exercise(endpoint)
    finally:
        uninstall()
        recorder.close()

    lines = _lines(log)
    assert {line["principal"] for line in lines} == {"SubmitJobFunction"}
    calls = {(line["service"], line["operation"], line["status"]): line["resource"] for line in lines}
    task_calls = [line for line in lines if line["operation"] == "SendTaskSuccess"]
    assert calls[("s3", "PutObject", 200)] == {"Bucket": "inputs", "Key": "jobs/a/face.png"}
    assert calls[("s3", "HeadObject", 404)] == {"Bucket": "inputs", "Key": "jobs/a/missing.png"}
    assert calls[("s3", "UploadPart", 200)] == {"Bucket": "inputs", "Key": "out/video.mp4"}
    assert calls[("s3", "CompleteMultipartUpload", 200)] == {"Bucket": "inputs", "Key": "out/video.mp4"}
    assert calls[("s3", "CopyObject", 200)] == {
        "Bucket": "inputs",
        "Key": "copy.png",
        "CopySource": {"Bucket": "inputs", "Key": "jobs/a/face.png"},
    }
    assert calls[("dynamodb", "TransactWriteItems", 200)] == {
        "TransactItems": [{"op": "Put", "TableName": "jobs"}, {"op": "ConditionCheck", "TableName": "jobs"}]
    }
    assert [(line["resource"], type(line["status"])) for line in task_calls] == [({}, int)]
    assert calls[("secretsmanager", "GetSecretValue", 200)]["SecretId"].startswith(
        f"arn:aws:secretsmanager:{REGION}:123456789012:secret:providers-"
    )
    presigned = [line for line in lines if line.get("presigned")]
    assert presigned == [
        {
            "principal": "SubmitJobFunction",
            "service": "s3",
            "operation": "GetObject",
            "resource": {"Bucket": "inputs", "Key": "jobs/a/face.png"},
            "status": None,
            "presigned": True,
        }
    ]
    text = log.read_text()
    for never in ("task-token-never-logged", "secret-value-never-logged", "job-item-never-logged"):
        assert never not in text


def test_without_the_variable_a_worker_records_nothing_and_with_it_hides_it_from_the_handler(
    endpoint: str, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import os, boto3
        from avatar_local.call_recorder import install_for_worker
        install_for_worker()
        assert not any(name.startswith("AVATAR_PIPELINE_CALL") for name in os.environ), "the handler sees it"
        boto3.client("s3", endpoint_url={endpoint!r}, **{CREDENTIALS!r}).list_buckets()
        """
    )
    log = tmp_path / "calls.jsonl"
    base = {name: value for name, value in os.environ.items() if not name.startswith("AVATAR_PIPELINE_CALL")}
    subprocess.run([sys.executable, "-c", script], env=base, check=True)
    assert not log.exists()

    recording = {**base, LOG_VARIABLE: str(log), PRINCIPAL_VARIABLE: "ReconcileFunction"}
    subprocess.run([sys.executable, "-c", script], env=recording, check=True)
    assert _lines(log) == [
        {"principal": "ReconcileFunction", "service": "s3", "operation": "ListBuckets", "resource": {}, "status": 200}
    ]
