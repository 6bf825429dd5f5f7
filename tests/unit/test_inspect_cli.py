"""``avatar-pipeline inspect``: the AIGC label and the C2PA manifest of a file or an S3 object, as text or JSON; bad
usage is one line on stderr and exit code 2."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import boto3
import pytest
from avatar_local import cli
from avatar_local.stack import free_port
from avatar_local.stack_info import StackInfo
from avatar_local.test_chain import GeneratedChain, make_test_chain
from moto import mock_aws

from tests.unit.test_content_credentials import GENERATOR, LABEL, make_mp4, sign

CREATED_LINE = f"c2pa.created (trainedAlgorithmicMedia, by {GENERATOR})"


@pytest.fixture(scope="module")
def chain() -> GeneratedChain:
    return make_test_chain()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, chain: GeneratedChain) -> Path:
    folder = tmp_path_factory.mktemp("inspect")
    sign(make_mp4(folder / "labelled.mp4", label=LABEL), folder / "video.mp4", chain)
    (folder / "root.pem").write_text(chain.root_pem)
    (folder / "other.pem").write_text(make_test_chain().root_pem)
    data = bytearray((folder / "video.mp4").read_bytes())
    data[data.rindex(b"mdat") + 64] ^= 0xFF
    (folder / "tampered.mp4").write_bytes(data)
    (folder / "notes.txt").write_text("not a video\n")
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["inspect", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_the_label_and_a_manifest_trusted_by_its_root(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(files / "video.mp4"), "--trust-anchor", str(files / "root.pem"))
    assert (code, err) == (0, "")
    lines = [line.split(None, 1) for line in out.splitlines()]
    assert ["ContentProducer", "acme"] in lines
    assert ["ProduceID", "job-1"] in lines
    assert ["generator", GENERATOR] in lines
    assert ["action", CREATED_LINE] in lines
    assert f"Trusted: signature valid, trusted by {files / 'root.pem'}" in out
    assert "signed by       Avatar Pipeline (local test) signer, issuer Avatar Pipeline (local test) (Es256)" in out


def test_json_is_one_document_with_the_label_and_the_manifest(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(files / "video.mp4"), "--trust-anchor", str(files / "root.pem"), "--json")
    document = json.loads(out)
    assert code == 0
    assert document["aigc"] == LABEL
    assert document["c2pa"]["generator"] == GENERATOR
    assert document["c2pa"]["actions"] == [
        {
            "action": "c2pa.created",
            "digital_source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
            "software_agent": GENERATOR,
        }
    ]
    assert (document["c2pa"]["signature_valid"], document["c2pa"]["trusted"], document["c2pa_error"]) == (
        True,
        True,
        None,
    )


def test_without_an_anchor_only_integrity_is_checked(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(files / "video.mp4"))
    assert code == 0
    assert "Valid: signature valid, trust not checked (no --trust-anchor)" in out


def test_an_unrelated_root_or_a_tampered_file_exits_1(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(files / "video.mp4"), "--trust-anchor", str(files / "other.pem"))
    assert code == 1
    assert "NOT trusted" in out
    code, out, _ = run(capsys, str(files / "tampered.mp4"), "--trust-anchor", str(files / "root.pem"), "--json")
    assert code == 1
    assert json.loads(out)["c2pa"]["validation_state"] == "Invalid"


def test_a_file_without_label_or_manifest_says_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(make_mp4(tmp_path / "plain.mp4")))
    assert code == 0
    assert "AIGC label      none" in out
    assert "C2PA manifest   none" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.mp4"], "missing.mp4: no such file"),
        (["notes.txt"], "notes.txt: not an MP4"),
        (["video.mp4", "--trust-anchor", "notes.txt"], "notes.txt: not a PEM certificate"),
        (["video.mp4", "--trust-anchor", "missing.pem"], "missing.pem: no such file"),
        (["s3://bucket-only"], "expected s3://bucket/key"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    files: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(files)
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err


def test_an_s3_object_is_read_with_boto3_when_no_stack_is_up(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ]:
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="outputs")
        s3.upload_file(str(files / "video.mp4"), "outputs", "job-1/video.mp4")
        code, out, _ = run(capsys, "s3://outputs/job-1/video.mp4", "--state-dir", str(tmp_path), "--json")
        assert code == 0
        assert json.loads(out)["c2pa"]["generator"] == GENERATOR
        code, out, err = run(capsys, "s3://outputs/job-2/video.mp4", "--state-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == "avatar-pipeline: s3://outputs/job-2/video.mp4: NoSuchKey from boto3's default configuration\n"


def test_a_stack_that_does_not_answer_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = {field.name: "x" for field in dataclasses.fields(StackInfo)}
    stack |= {"endpoint_url": f"http://127.0.0.1:{free_port()}", "region": "us-east-1"}
    (tmp_path / "stack.json").write_text(json.dumps(stack))
    code, out, err = run(capsys, "s3://outputs/job-1/video.mp4", "--state-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith("avatar-pipeline: s3://outputs/job-1/video.mp4: could not be read with the local stack at")
    assert err.count("\n") == 1
    (tmp_path / "stack.json").write_text("{}")
    code, _, err = run(capsys, "s3://outputs/job-1/video.mp4", "--state-dir", str(tmp_path))
    assert code == 2
    assert "is not a stack file" in err
