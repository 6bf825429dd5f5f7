"""Normalizing recorded AWS calls into the policy inventory (``avatar_local.policy.inventory``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from avatar_local.call_recorder import resource_of
from avatar_local.policy import inventory
from avatar_local.policy.inventory import Names, key_shape, status_class

ACCOUNT = "123456789012"
REGION = "eu-west-1"
JOB_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:avatar-pipeline-avatar-video"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:providers-AbCdEf"
STACK = {
    "account": ACCOUNT,
    "region": REGION,
    "names": {
        "avatar-pipeline-inputbucket-1a2b3c4d": "${InputBucket}",
        "avatar-pipeline-JobsTable-5e6f7a8b": "${JobsTable}",
        SECRET: "${ProviderSecret}",
        JOB_MACHINE: "${AvatarVideoStateMachine}",
        "avatar-pipeline-avatar-video": "${AvatarVideoStateMachine.Name}",
        "avatar-pipeline-Submit-9c0d1e2f": "${SubmitJobFunction}",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:avatar-pipeline-Submit-9c0d1e2f": "${SubmitJobFunction.Arn}",
    },
}


def _names() -> Names:
    names = Names()
    names.learn(STACK)
    return names


@pytest.mark.parametrize(
    ("key", "shape"),
    [
        ("jobs/alice/face.png", "jobs/{id}/{name}.png"),
        ("jobs/2024/spring/Intro Lesson.JSON", "jobs/{id}/{id}/{name}.JSON"),
        ("drop/alice.png", "drop/{name}.png"),
        ("batches-normalized/b-1/rows", "batches-normalized/{id}/rows"),
        ("batches/spring/b-1/report.csv", "batches/{id}/{id}/report.csv"),
        ("alice-3f9a1c2e/video.mp4", "{id}/video.mp4"),
        ("out/alice-3f9a1c2e/result.json", "{id}/{id}/result.json"),
        ("media/x/README", "{id}/{id}/{name}"),
        ("stem.jpg", "{name}.jpg"),
        ("jobs/alice/", "jobs/{id}/"),
        ("jobs/", "jobs/"),
    ],
)
def test_a_key_becomes_its_shape(key: str, shape: str) -> None:
    assert key_shape(key) == shape


@pytest.mark.parametrize(
    ("status", "presigned", "kind"),
    [
        (200, False, "ok"),
        (206, False, "ok"),
        (404, False, "not_found"),
        (400, False, "error"),
        (403, False, "error"),
        (500, False, "error"),
        (None, False, "error"),
        (None, True, "presigned"),
    ],
)
def test_a_status_becomes_its_class(status: int | None, presigned: bool, kind: str) -> None:
    assert status_class(status, presigned) == kind


def test_names_and_arns_become_placeholders() -> None:
    names = _names()
    assert names.value("avatar-pipeline-inputbucket-1a2b3c4d") == "${InputBucket}"
    assert names.value(JOB_MACHINE) == "${AvatarVideoStateMachine}"
    assert names.value(f"arn:aws:states:{REGION}:{ACCOUNT}:execution:avatar-pipeline-avatar-video:b-1-7") == (
        "arn:aws:states:${AWS::Region}:${AWS::AccountId}:execution:${AvatarVideoStateMachine.Name}:*"
    )
    assert names.value(f"arn:aws:states:{REGION}:{ACCOUNT}:mapRun:avatar-pipeline-avatar-video/RunRows:f00d") == (
        "arn:aws:states:${AWS::Region}:${AWS::AccountId}:mapRun:${AvatarVideoStateMachine.Name}/*:*"
    )
    assert names.value(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:avatar-pipeline-Submit-9c0d1e2f:live") == (
        "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${SubmitJobFunction}:*"
    )
    assert names.value("default") == "default"
    assert names.value("somebody-elses-bucket") == "somebody-elses-bucket"


def test_a_call_keeps_only_its_normalized_resources() -> None:
    params: dict[str, Any] = {
        "TransactItems": [
            {"Update": {"TableName": "avatar-pipeline-JobsTable-5e6f7a8b", "Key": {"job_id": {"S": "a"}}}},
            {"Put": {"TableName": "avatar-pipeline-JobsTable-5e6f7a8b", "Item": {"job_id": {"S": "b"}}}},
            {"Put": {"TableName": "avatar-pipeline-JobsTable-5e6f7a8b", "Item": {"job_id": {"S": "c"}}}},
        ],
        "RequestItems": {"avatar-pipeline-JobsTable-5e6f7a8b": {"Keys": []}},
        "CopySource": "avatar-pipeline-inputbucket-1a2b3c4d/jobs/a%20b/face.png?versionId=3",
        "Bucket": "avatar-pipeline-inputbucket-1a2b3c4d",
        "Key": "jobs/x/face.png",
        "Body": b"never",
    }
    call = {
        "principal": "SubmitJobFunction",
        "service": "dynamodb",
        "operation": "TransactWriteItems",
        "resource": resource_of("dynamodb", params),
        "status": 200,
    }
    assert inventory.normalize(call, _names()) == {
        "principal": "SubmitJobFunction",
        "service": "dynamodb",
        "operation": "TransactWriteItems",
        "resource": {
            "Bucket": "${InputBucket}",
            "Key": "jobs/{id}/{name}.png",
            "CopySource": {"Bucket": "${InputBucket}", "Key": "jobs/{id}/{name}.png"},
            "RequestItems": ["${JobsTable}"],
            "TransactItems": [
                {"op": "Put", "TableName": "${JobsTable}"},
                {"op": "Update", "TableName": "${JobsTable}"},
            ],
        },
        "status": "ok",
    }


def test_secrets_task_tokens_and_bodies_are_never_resources() -> None:
    assert resource_of("stepfunctions", {"taskToken": "t0ken", "output": "{}"}) == {}
    assert resource_of("secretsmanager", {"SecretId": SECRET, "SecretString": "hunter2"}) == {"SecretId": SECRET}
    assert resource_of("events", {"Entries": [{"Detail": "{}"}, {"EventBusName": "audit", "Detail": "{}"}]}) == {
        "Entries": ["default", "audit"]
    }
    assert resource_of("sqs", {"Entries": [{"MessageBody": "x"}]}) == {}


def _log(path: Path, *calls: dict[str, Any]) -> Path:
    lines = [{"stack": STACK}, *calls]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _call(key: str, status: int | None = 200, principal: str = "ValidateMediaFunction") -> dict[str, Any]:
    return {
        "principal": principal,
        "service": "s3",
        "operation": "HeadObject",
        "resource": {"Bucket": "avatar-pipeline-inputbucket-1a2b3c4d", "Key": key},
        "status": status,
    }


def test_the_same_normalized_call_is_kept_once_in_a_stable_order(tmp_path: Path) -> None:
    log = _log(
        tmp_path / "calls.jsonl",
        _call("jobs/b/voice.wav", principal="Z"),
        _call("jobs/a/face.png"),
        _call("jobs/b/face.png"),
        _call("jobs/c/face.png", 404),
    )
    calls = inventory.normalized_calls([log])
    assert [(c["principal"], c["resource"]["Key"], c["status"]) for c in calls] == [
        ("ValidateMediaFunction", "jobs/{id}/{name}.png", "not_found"),
        ("ValidateMediaFunction", "jobs/{id}/{name}.png", "ok"),
        ("Z", "jobs/{id}/{name}.wav", "ok"),
    ]


def test_check_names_each_recorded_call_the_inventory_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    known = _log(tmp_path / "known.jsonl", _call("jobs/a/face.png"))
    written = tmp_path / "calls.json"
    assert inventory.main(["--log", str(known), "--write", str(written)]) == 0
    assert json.loads(written.read_text())["calls"] == inventory.normalized_calls([known])

    more = _log(tmp_path / "more.jsonl", _call("jobs/b/face.png"), _call("jobs/b/face.png", 404))
    assert inventory.main(["--log", str(more), "--check", str(written)]) == 1
    report = capsys.readouterr().err
    assert "1 AWS call(s)" in report
    assert '"status": "not_found"' in report
    assert "make policy-inventory" in report
    assert inventory.missing(inventory.normalized_calls([more]), inventory.load_inventory(written)) == [
        inventory.normalize(_call("jobs/b/face.png", 404), _names())
    ]

    nothing = _log(tmp_path / "nothing.jsonl")
    assert inventory.main(["--log", str(nothing), "--check", str(written)]) == 1  # a broken recorder
    assert inventory.main(["--log", str(known), "--log", str(more), "--write", str(written)]) == 0
    assert inventory.main(["--log", str(known), "--check", str(written)]) == 0
    assert inventory.main(["--log", str(more), "--check", str(written)]) == 0


def test_a_failed_call_is_covered_by_the_same_call_having_succeeded() -> None:
    succeeded, lost_a_race = (inventory.normalize(_call("jobs/a/face.png", status), _names()) for status in (200, 400))
    missed = inventory.normalize(_call("jobs/a/face.png", 404), _names())
    assert inventory.missing([succeeded, lost_a_race], [succeeded]) == []
    assert inventory.missing([succeeded, lost_a_race, missed], [succeeded]) == [missed]
    assert inventory.missing([succeeded], [lost_a_race]) == [succeeded], "a failure does not cover a success"


def test_merge_keeps_what_the_inventory_holds_and_write_alone_replaces_it(tmp_path: Path) -> None:
    written = tmp_path / "calls.json"
    first = _log(tmp_path / "first.jsonl", _call("jobs/a/face.png"), _call("jobs/a/face.png", 400))
    second = _log(tmp_path / "second.jsonl", _call("drop/a.png"))
    assert inventory.main(["--log", str(first), "--write", str(written), "--merge"]) == 0
    assert inventory.main(["--log", str(second), "--write", str(written), "--merge"]) == 0
    assert len(inventory.load_inventory(written)) == 3
    assert inventory.main(["--log", str(second), "--write", str(written)]) == 0
    assert inventory.load_inventory(written) == inventory.normalized_calls([second])


def test_a_map_runs_folder_keeps_its_name() -> None:
    assert key_shape("batches/map-runs/0f1e2d/manifest.json") == "batches/map-runs/{id}/{name}.json"


def test_a_version_id_is_kept_as_a_shape() -> None:
    params = {"Bucket": "b", "Key": "jobs/a/job.json", "VersionId": "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"}
    resource = resource_of("s3", params)
    assert Names().resource(resource)["VersionId"] == "{version}"
