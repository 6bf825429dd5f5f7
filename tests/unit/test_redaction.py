"""One redaction for every provider: patterns, registered values, contract error causes, the provider secret, logs."""

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from avatar_pipeline import credentials, errors, redaction
from avatar_pipeline.errors import ProviderRejected
from avatar_pipeline.redaction import MARKER, redact, register, register_document
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "ws-live-7f3c9a1e5b2d4c6f"
SIGNATURE = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c2e4a6c8e0b2d4f6a8c0e2a4c6e8a0b2d"
SECURITY_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD"
PRESIGNED = (
    "https://in-bucket.s3.us-east-1.amazonaws.com/jobs/alice.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=ASIAY34FZKBOKMUTVV7A%2F20250301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250301T120000Z"
    f"&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token={SECURITY_TOKEN}&X-Amz-Signature={SIGNATURE}"
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJrbGluZy1hayIsImV4cCI6MTc0MDAwMDAwMH0"
    ".Kq3vX1a2b3c4d5e6f7g8h9i0j1k2l3m4n5o6p7q8r9s"
)
VOLC_AUTHORIZATION = (
    "HMAC-SHA256 Credential=AKLTMjVmYTkzZDE4YmQ2/20250301/cn-north-1/cv/request, "
    f"SignedHeaders=content-type;host;x-content-sha256;x-date, Signature={SIGNATURE}"
)


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    redaction.forget_registered()
    yield
    redaction.forget_registered()


def _assert_redacted(text: str, *secrets: str) -> str:
    redacted = redact(text)
    for secret in secrets:
        assert secret not in redacted, f"{secret!r} survived in {redacted!r}"
    assert MARKER in redacted
    assert redact(redacted) == redacted, "redaction is idempotent"
    return redacted


# --- patterns that are secret whatever their value ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secrets", "kept"),
    [
        (f"Authorization: Bearer {API_KEY}", [API_KEY], "Authorization: Bearer [redacted]"),
        (f'{{"Authorization": "Bearer {API_KEY}", "X-Date": "20250301T120000Z"}}', [API_KEY], "20250301T120000Z"),
        (f"{{'authorization': 'Bearer {API_KEY}'}}", [API_KEY], "'authorization': 'Bearer [redacted]'"),
        (f"headers authorization=Token {API_KEY}; next", [API_KEY], "; next"),
        (f"Authorization: {API_KEY}\r\nHost: api.test", [API_KEY], "Host: api.test"),
        (f"Proxy-Authorization: Basic {API_KEY}", [API_KEY], "Proxy-Authorization: [redacted]"),
        (f"invalid token Bearer {JWT} refused", [JWT, JWT.split(".")[2]], "refused"),
        (f"the token {JWT} expired", [JWT, JWT.split(".")[1]], "the token [redacted] expired"),
        (f"clipped {JWT[:60]}", [JWT[:60]], "clipped [redacted]"),
        (
            f"Authorization: {VOLC_AUTHORIZATION}\nX-Date: 20250301T120000Z",
            [SIGNATURE, "AKLTMjVmYTkzZDE4YmQ2"],
            "X-Date: 20250301T120000Z",
        ),
        (
            f"signed with {VOLC_AUTHORIZATION}.",
            [SIGNATURE, "AKLTMjVmYTkzZDE4YmQ2"],
            "signed with HMAC-SHA256 [redacted].",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250301/us-east-1/s3/aws4_request, "
            f"SignedHeaders=host, Signature={SIGNATURE}",
            [SIGNATURE, "AKIAIOSFODNN7EXAMPLE"],
            "AWS4-HMAC-SHA256 [redacted]",
        ),
        (
            f"could not download {PRESIGNED}: 403",
            [SIGNATURE, SECURITY_TOKEN, "ASIAY34FZKBOKMUTVV7A"],
            "could not download https://in-bucket.s3.us-east-1.amazonaws.com/jobs/alice.png?[redacted]: 403",
        ),
        (
            json.dumps({"image": PRESIGNED, "audio": PRESIGNED.replace("alice.png", "alice.wav")}),
            [SIGNATURE, SECURITY_TOKEN],
            '"audio": "https://in-bucket.s3.us-east-1.amazonaws.com/jobs/alice.wav?[redacted]"',
        ),
        (json.dumps(json.dumps({"image": PRESIGNED})), [SIGNATURE, SECURITY_TOKEN], "jobs/alice.png?[redacted]"),
        (f"clipped {PRESIGNED[:150]}...", [PRESIGNED[:150]], "jobs/alice.png?[redacted]..."),
        (
            "https://d1.cloudfront.net/v.mp4?Expires=1740000000&Signature=abcDEF~ghi__&Key-Pair-Id=K2JCJMDEHXQW5F",
            ["abcDEF~ghi__", "K2JCJMDEHXQW5F"],
            "https://d1.cloudfront.net/v.mp4?[redacted]",
        ),
        (
            "https://sim.test/_simulator/files/t.mp4?expires=1740000000&signature=deadbeefcafe",
            ["deadbeefcafe"],
            "https://sim.test/_simulator/files/t.mp4?[redacted]",
        ),
        (
            "https://tos.test/o.mp4?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Signature=abcdef123456",
            ["abcdef123456"],
            "https://tos.test/o.mp4?[redacted]",
        ),
        (
            "https://proxy.test/fetch?u=https%3A%2F%2Fb.test%2Fa.png%3FX-Amz-Signature%3Dabcdef123456",
            ["abcdef123456"],
            "https://proxy.test/fetch?[redacted]",
        ),
        (f"query X-Amz-Signature={SIGNATURE}&X-Amz-Date=1", [SIGNATURE], "X-Amz-Signature=[redacted]"),
        (
            json.dumps(PRESIGNED).replace("/", "\\/"),
            [SIGNATURE, SECURITY_TOKEN, "ASIAY34FZKBOKMUTVV7A"],
            "alice.png?X-Amz-Algorithm=[redacted]&X-Amz-Credential=[redacted]",
        ),
        (f"Signature={SIGNATURE}, Credential=AKLTabc/20250301", [SIGNATURE, "AKLTabc"], "Signature=[redacted]"),
        ("webhook secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw rejected", ["MfKQ9r8GKYqrTwjUPD8IL"], "rejected"),
        (
            '{"access_key_id": "AK-volc-0001", "secret_access_key": "c2VjcmV0LWtleQ==", "api_key": "k1"}',
            ["AK-volc-0001", "c2VjcmV0LWtleQ==", '"k1"'],
            '"api_key": "[redacted]"',
        ),
        ('\\"api_key\\":\\"escaped-api-key\\"', ["escaped-api-key"], '\\"api_key\\":\\"[redacted]\\"'),
        ("access_key=AK-volc-0001&Action=CVSubmitTask", ["AK-volc-0001"], "Action=CVSubmitTask"),
        ("X-Api-Key: key-0123456789", ["key-0123456789"], "X-Api-Key: [redacted]"),
        ("used AKIAIOSFODNN7EXAMPLE for the upload", ["AKIAIOSFODNN7EXAMPLE"], "for the upload"),
    ],
)
def test_patterns(text: str, secrets: list[str], kept: str) -> None:
    assert kept in _assert_redacted(text, *secrets)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "volcengine task 7012345678901234567 not found: it never existed or is older than 12 h",
        "volcengine submit answered HTTP 404 InvalidActionOrVersion: Could not find operation (request_id 2025)",
        "kling task query answered HTTP 401, code 1004 (authorization has expired): token expired [no request_id]",
        "kling submit answered HTTP 401, code 1002 (authorization is invalid): Authorization is invalid",
        "wavespeed submit answered HTTP 400: unknown field (check the wavespeed api_key in the provider secret)",
        "POST https://open.volcengineapi.com/?Action=CVSubmitTask&Version=2022-08-31 failed",
        "https://in.test/a.png?width=300&lang=en is not an image",
        "the provider secret's 'volcengine' entry has values for 'access_key_id' that are not strings",
        "image s3://in/portrait.png has no recognisable subject (volcengine subject recognition)",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


# --- registered values ----------------------------------------------------------------------------


def test_registered_values_are_redacted_wherever_they_appear() -> None:
    secret = "sk/9f2c+4e6a=8b0d\\x"
    register(secret)
    for echoed in (secret, "sk%2F9f2c%2B4e6a%3D8b0d%5Cx"):
        assert redact(f"invalid key {echoed} for this account") == "invalid key [redacted] for this account"
    echoed_in_json = json.dumps({"message": f"key {secret} refused"})
    assert "sk/9f2c+4e6a=8b0d\\\\x" in echoed_in_json
    assert redact(echoed_in_json) == json.dumps({"message": "key [redacted] refused"})


def test_a_value_containing_another_is_replaced_whole() -> None:
    register("access-key-0123", "access-key-0123-and-more")
    assert redact("got access-key-0123-and-more") == "got [redacted]"


def test_short_and_non_string_values_are_not_registered() -> None:
    register("abc", "1234567", " " * 12, 12345678, None)
    assert redact("abc 1234567 12345678 None") == "abc 1234567 12345678 None"
    register("12345678")
    assert redact("abc 1234567 12345678") == "abc 1234567 [redacted]"


def test_register_document_takes_every_string_value_at_any_depth() -> None:
    register_document(
        {"wavespeed": {"api_key": "ws-0123456789"}, "kling": {"keys": ["kl-0123456789", {"deep": "deep-0123456789"}]}}
    )
    assert redact("ws-0123456789 kl-0123456789 deep-0123456789 wavespeed kling keys") == (
        "[redacted] [redacted] [redacted] wavespeed kling keys"
    )


def test_the_value_pattern_is_rebuilt_only_when_the_registry_changes() -> None:
    register("first-secret-value")
    built = redaction._REGISTRY._pattern
    register("first-secret-value")
    register_document({"again": "first-secret-value"})
    assert redaction._REGISTRY._pattern is built
    register("second-secret-value")
    assert redaction._REGISTRY._pattern is not built
    assert redact("first-secret-value second-secret-value") == "[redacted] [redacted]"


# --- contract errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", errors.CONTRACT_ERROR_NAMES)
def test_every_contract_error_redacts_its_cause(name: str) -> None:
    register("registered-key-0123456789")
    error_class = getattr(errors, name)
    assert issubclass(error_class, errors.PipelineError)
    raw = (
        f"provider answered HTTP 401: echo Authorization: Bearer {API_KEY} key registered-key-0123456789 "
        f"body {json.dumps({'image': PRESIGNED})}"
    )
    error = error_class(raw)
    for text in (error.cause, str(error), *map(str, error.args)):
        for secret in (API_KEY, "registered-key-0123456789", SIGNATURE, SECURITY_TOKEN):
            assert secret not in text
    assert error.cause.startswith("provider answered HTTP 401: echo Authorization: Bearer [redacted]")
    assert "https://in-bucket.s3.us-east-1.amazonaws.com/jobs/alice.png?[redacted]" in error.cause
    assert pickle.loads(pickle.dumps(error)).cause == error.cause  # noqa: S301 - our own object


# --- the provider secret --------------------------------------------------------------------------


@pytest.fixture
def secret_arn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real Secrets Manager secret (moto) read through Powertools Parameters, as in Lambda."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    parameters.clear_caches()
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="provider", SecretString="{}")["ARN"]
        yield arn
    parameters.clear_caches()


def _store(arn: str, secret: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=secret)
    parameters.clear_caches()  # what the 60 s cache expiring does


def test_every_string_of_the_secret_is_registered_and_a_rotated_key_too(secret_arn: str) -> None:
    _store(
        secret_arn, json.dumps({"wavespeed": {"api_key": "ws-old-0123456789"}, "kling": {"api_key": "kl-0123456789"}})
    )
    assert credentials.provider_credentials(secret_arn, "wavespeed") == {"api_key": "ws-old-0123456789"}
    assert redact("ws-old-0123456789 kl-0123456789") == "[redacted] [redacted]"
    _store(secret_arn, json.dumps({"wavespeed": {"api_key": "ws-new-0123456789"}}))
    assert credentials.provider_credentials(secret_arn, "wavespeed") == {"api_key": "ws-new-0123456789"}
    assert redact("ws-new-0123456789 ws-old-0123456789") == "[redacted] [redacted]"


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ('{"wavespeed": {"api_key": "ws-0123456789"', "the provider secret is not a JSON document"),
        ("ws-0123456789-bare-key", "the provider secret is not a JSON document"),
        ('["ws-0123456789"]', "must be a JSON object with a 'wavespeed' entry; it is an array"),
        ('"ws-0123456789"', "must be a JSON object with a 'wavespeed' entry; it is a string"),
        ('{"wavespeed": "ws-0123456789"}', "'wavespeed' entry must be an object of strings; it is a string"),
        ('{"wavespeed": ["ws-0123456789"]}', "'wavespeed' entry must be an object of strings; it is an array"),
        ('{"wavespeed": {"api_key": 123456789}}', "'wavespeed' entry has values for 'api_key' that are not strings"),
        (
            '{"wavespeed": {"ws-0123456789": true, "api_key": null}}',
            "'wavespeed' entry has values for 'api_key' and 1 other field(s) that are not strings",
        ),
        ('{"kling": {"api_key": "ws-0123456789"}}', "the provider secret has no credentials for 'wavespeed'"),
        ('{"wavespeed": {"api_key": ""}}', "the provider secret has no credentials for 'wavespeed'"),
    ],
)
def test_a_malformed_secret_is_rejected_naming_the_provider_and_echoing_nothing(
    secret_arn: str, secret: str, expected: str
) -> None:
    _store(secret_arn, secret)
    with pytest.raises(ProviderRejected) as caught:
        credentials.provider_credentials(secret_arn, "wavespeed")
    assert expected in caught.value.cause
    assert "wavespeed" in caught.value.cause
    assert "0123456789" not in caught.value.cause
    assert caught.value.__suppress_context__ or caught.value.__cause__ is None


# --- logs -----------------------------------------------------------------------------------------

_LOGGING_SCRIPT = f"""
from avatar_pipeline import redaction
from avatar_pipeline.observability import logger

redaction.register("registered-key-0123456789")
logger.info("job started", extra={{"headers": {{"Authorization": "Bearer {API_KEY}"}}, "job_id": "j-1"}})
logger.info("inputs %s", {PRESIGNED!r}, extra={{"inputs": [{PRESIGNED!r}], "attempt": 2, "ok": True}})
logger.warning({{"event": "echo", "message": "key registered-key-0123456789"}})
try:
    raise RuntimeError("provider said: Authorization: {VOLC_AUTHORIZATION}")
except RuntimeError:
    logger.exception("call failed", extra={{"cause": "body {{\\"api_key\\": \\"{API_KEY}\\"}}"}})
"""


def test_log_records_are_redacted_in_the_json_output() -> None:
    env = {
        **os.environ,
        "POWERTOOLS_SERVICE_NAME": "redaction-test",
        "POWERTOOLS_METRICS_NAMESPACE": "Test",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_DEV": "0",
    }
    # A process of its own: Powertools configures its singletons once, from the environment, at import.
    ran = subprocess.run(
        [sys.executable, "-c", _LOGGING_SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    output = ran.stdout
    for secret in (API_KEY, "registered-key-0123456789", SIGNATURE, SECURITY_TOKEN, "AKLTMjVmYTkzZDE4YmQ2"):
        assert secret not in output
    started, inputs, warned, failed = (json.loads(line) for line in output.splitlines())
    assert started["message"] == "job started"
    assert started["headers"] == {"Authorization": "Bearer [redacted]"}
    assert started["job_id"] == "j-1"
    presigned = "https://in-bucket.s3.us-east-1.amazonaws.com/jobs/alice.png?[redacted]"
    assert inputs["message"] == f"inputs {presigned}"
    assert (inputs["inputs"], inputs["attempt"], inputs["ok"]) == ([presigned], 2, True)
    assert warned["message"] == {"event": "echo", "message": "key [redacted]"}
    assert failed["cause"] == 'body {"api_key": "[redacted]"}'
    assert failed["exception_name"] == "RuntimeError"
    assert "Authorization: HMAC-SHA256 [redacted]" in failed["exception"]
    assert failed["stack_trace"]["value"] == "provider said: Authorization: HMAC-SHA256 [redacted]"


def test_a_secret_that_cannot_be_read_is_a_contract_error_naming_no_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from avatar_pipeline import credentials
    from avatar_pipeline.errors import ProviderRejected, ProviderUnavailable
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import ClientError

    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"

    def failing(code: str) -> None:
        def get_secret(*args: object, **kwargs: object) -> None:
            try:
                raise ClientError({"Error": {"Code": code, "Message": "no"}}, "GetSecretValue")
            except ClientError as error:
                raise GetParameterError(str(error)) from error

        monkeypatch.setattr(credentials.parameters, "get_secret", get_secret)

    failing("AccessDeniedException")
    with pytest.raises(ProviderRejected, match="could not be read for 'kling' \\(AccessDeniedException\\)"):
        credentials.provider_credentials(arn, "kling")
    failing("ThrottlingException")
    with pytest.raises(ProviderUnavailable, match="retried"):
        credentials.provider_credentials(arn, "kling")
