"""SignVideo's core (content_signing) against moto, and PersistResult's side of it (SignerFunction), whose Lambda
invoke is stubbed here: the end-to-end tests run it through the local stack's Lambda service."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from avatar_local.template import load_template
from avatar_local.test_chain import GeneratedChain, make_test_chain
from avatar_pipeline import aws
from avatar_pipeline.errors import ProviderUnavailable, ResultUnavailable
from avatar_pipeline.signed_output import SignerFunction, SignOutcome
from aws_lambda_powertools.utilities import parameters
from botocore.response import StreamingBody
from botocore.stub import Stubber
from content_signing.manifests import read_manifest
from content_signing.signing_key import UnusableSecret, signing_key
from content_signing.stored_video import BadSignRequest, SigningKey, SignRequest, sign_stored_video

from tests.unit.test_content_credentials import GENERATOR, make_mp4

BUCKET = "avatar-out"
SOURCE, DESTINATION = "staging/job-1/1/labelled.mp4", "staging/job-1/1/signed.mp4"
REQUEST = SignRequest("job-1", BUCKET, SOURCE, DESTINATION, GENERATOR)


@pytest.fixture(scope="module")
def chain() -> GeneratedChain:
    return make_test_chain()


@pytest.fixture
def s3(mocked_aws: None, tmp_path: Path) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.upload_file(str(make_mp4(tmp_path / "source.mp4")), BUCKET, SOURCE)
    return client


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (["job-1"], "must be an object"),
        ({"job_id": "job-1", "bucket": BUCKET, "source_key": SOURCE}, "destination_key, generator"),
        ({**REQUEST.__dict__, "bucket": 7}, "non-empty strings for: bucket"),
        ({**REQUEST.__dict__, "destination_key": SOURCE}, "must differ from source_key"),
    ],
)
def test_a_request_that_is_not_a_sign_request_is_refused_by_name(event: Any, message: str) -> None:
    with pytest.raises(BadSignRequest, match=message):
        SignRequest.parse(event)


def test_the_stored_video_is_signed_into_the_destination_and_the_source_kept(
    s3: Any, chain: GeneratedChain, tmp_path: Path
) -> None:
    key = SigningKey(chain.certificate_chain_pem, chain.private_key_pem)
    outcome = sign_stored_video(s3, SignRequest.parse(REQUEST.__dict__), key)
    signed = tmp_path / "signed.mp4"
    s3.download_file(BUCKET, DESTINATION, str(signed))
    report = read_manifest(signed, trust_anchors_pem=chain.root_pem)
    assert report is not None
    assert (report.trusted, report.signature_valid, report.generator) == (True, True, GENERATOR)
    assert outcome.as_result() == {"manifest_label": report.label, "failure": None}
    assert s3.head_object(Bucket=BUCKET, Key=SOURCE)["ContentLength"] < signed.stat().st_size
    assert s3.head_object(Bucket=BUCKET, Key=DESTINATION)["ContentType"] == "video/mp4"


def test_a_key_that_does_not_match_the_certificate_is_an_answer_not_an_error(s3: Any, chain: GeneratedChain) -> None:
    other = make_test_chain()
    outcome = sign_stored_video(s3, REQUEST, SigningKey(chain.certificate_chain_pem, other.private_key_pem))
    assert outcome.manifest_label is None
    assert outcome.failure is not None
    assert "signing video.mp4 failed" in outcome.failure
    assert "PRIVATE KEY" not in outcome.failure
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=DESTINATION)["KeyCount"] == 0


def test_without_a_key_nothing_is_signed(s3: Any) -> None:
    outcome = sign_stored_video(s3, REQUEST, None)
    assert outcome == type(outcome)(failure="the provider secret has no c2pa.certificate_chain and c2pa.private_key")
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=DESTINATION)["KeyCount"] == 0


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ({"wavespeed": {"api_key": "k"}}, None),
        ({"c2pa": {"certificate_chain": "CHAIN"}}, None),
        ({"c2pa": "not an object"}, None),
        ({"c2pa": {"certificate_chain": "CHAIN", "private_key": "KEY"}}, SigningKey("CHAIN", "KEY")),
        (
            {"c2pa": {"certificate_chain": "CHAIN", "private_key": "KEY", "tsa_url": "https://tsa.example"}},
            SigningKey("CHAIN", "KEY", "https://tsa.example"),
        ),
    ],
)
def test_the_signing_key_comes_from_the_secrets_c2pa_entry(
    mocked_aws: None, secret: dict[str, Any], expected: SigningKey | None
) -> None:
    parameters.clear_caches()
    arn = boto3.client("secretsmanager").create_secret(Name="providers", SecretString=json.dumps(secret))["ARN"]
    assert signing_key(arn) == expected


@pytest.mark.parametrize("value", ["{not json", '["a list"]'])
def test_a_secret_that_is_not_a_json_object_is_refused_without_quoting_it(mocked_aws: None, value: str) -> None:
    parameters.clear_caches()
    arn = boto3.client("secretsmanager").create_secret(Name="providers", SecretString=value)["ARN"]
    with pytest.raises(UnusableSecret) as refused:
        signing_key(arn)
    assert value not in str(refused.value)


# --- PersistResult's side: SignerFunction --------------------------------------------------------------------


def _answer(stub: Stubber, payload: Any, *, function_error: str | None = None) -> None:
    body = json.dumps(payload).encode()
    response: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error:
        response["FunctionError"] = function_error
    expected = {"FunctionName": "sign-video", "Payload": json.dumps({**REQUEST.__dict__}).encode()}
    stub.add_response("invoke", response, expected)


def _sign() -> SignOutcome:
    return SignerFunction("sign-video", GENERATOR).sign("job-1", BUCKET, SOURCE, DESTINATION)


def test_the_signer_function_is_asked_for_exactly_the_request_and_its_answer_read(aws_env: None) -> None:
    with Stubber(aws.signing_lambda()) as stub:
        _answer(stub, {"manifest_label": "urn:c2pa:1", "failure": None})
        _answer(stub, {"manifest_label": None, "failure": "signing video.mp4 failed: bad key"})
        assert _sign() == SignOutcome("urn:c2pa:1", None)
        assert _sign() == SignOutcome(None, "signing video.mp4 failed: bad key")
    aws.signing_lambda.cache_clear()


@pytest.mark.parametrize(
    ("payload", "function_error", "message"),
    [
        ({"errorType": "ClientError", "errorMessage": "SlowDown"}, "Unhandled", r"failed \(ClientError: SlowDown\)"),
        ({"manifest_label": None, "failure": None}, None, "neither manifest_label nor failure"),
        ("a string", None, "failed"),
    ],
)
def test_a_signer_function_that_fails_or_answers_nonsense_is_retried(
    aws_env: None, payload: Any, function_error: str | None, message: str
) -> None:
    with Stubber(aws.signing_lambda()) as stub:
        _answer(stub, payload, function_error=function_error)
        with pytest.raises(ProviderUnavailable, match=message):
            _sign()
    aws.signing_lambda.cache_clear()


@pytest.mark.parametrize(
    ("code", "error"),
    [("TooManyRequestsException", ProviderUnavailable), ("ResourceNotFoundException", ResultUnavailable)],
)
def test_a_refused_invoke_is_retried_when_lambda_is_busy_and_fails_the_job_when_it_is_not_deployed(
    aws_env: None, code: str, error: type[Exception]
) -> None:
    with Stubber(aws.signing_lambda()) as stub:
        stub.add_client_error("invoke", service_error_code=code, http_status_code=429)
        with pytest.raises(error, match=f"invoking sign-video to sign s3://{BUCKET}/{SOURCE}"):
            _sign()
    aws.signing_lambda.cache_clear()


def test_the_signer_function_waits_as_long_as_sign_video_may_run_and_never_invokes_twice(aws_env: None) -> None:
    config = aws.signing_lambda().meta.config
    template = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
    assert config.read_timeout > template["Resources"]["SignVideoFunction"]["Properties"]["Timeout"]
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    aws.signing_lambda.cache_clear()
