"""Whatever a manifest holds, intake answers with a Job or a readable ``InvalidRequest`` rejection, never a crash.

Property-based (hypothesis) over any JSON value and any bytes, plus the specific shapes worth naming.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from avatar_pipeline.intake import Ignored, Intake, take_trigger
from avatar_pipeline.job_requests import MAX_MANIFEST_DEPTH
from avatar_pipeline.models import MAX_OUTPUT_PREFIX_CHARS, Job, JobRequest, S3Location
from avatar_pipeline.options import HunyuanAvatarOptions, KlingAvatarOptions, VolcengineOmniHumanOptions
from avatar_pipeline.providers.registry import PROVIDERS
from avatar_pipeline.request_rules import JOB_ID_PATTERN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

INPUT_BUCKET = "avatar-input"
MANIFEST_KEY = "jobs/campaign/alice.json"
MANIFEST_URI = f"s3://{INPUT_BUCKET}/{MANIFEST_KEY}"
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def s3_event(key: str = MANIFEST_KEY) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "f5f1e65c-dc3a-93ca-6c1e-b1647eac7963",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2025-03-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{INPUT_BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": INPUT_BUCKET},
            "object": {"key": key, "size": 100, "etag": "4e68adba0abe2dc8653dc3354e14c01d", "sequencer": "00"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def intake(body: bytes) -> Intake | Ignored:
    def read_manifest(location: S3Location, version_id: str | None, max_bytes: int) -> tuple[S3Location, bytes]:
        return location, body

    return take_trigger(
        s3_event(),
        execution_name="exec-1",
        input_bucket=INPUT_BUCKET,
        default_provider="wavespeed/omnihuman-1.5",
        read_manifest=read_manifest,
        now=datetime(2025, 3, 1, tzinfo=UTC),
    )


def job_or_readable_refusal(body: bytes) -> Job | str:
    """The property: a Job, or an InvalidRequest rejection with a non-empty cause under a valid job id; anything
    else (an exception, a rejection without a cause) fails the test."""
    result = intake(body)
    assert isinstance(result, Intake), result
    # What intake produces must travel on: it survives the JSON round trip of a Step Functions state.
    assert Intake.model_validate_json(result.model_dump_json()) == result
    assert JOB_ID_PATTERN.fullmatch(result.ref.job_id), result.ref.job_id
    if result.job is not None:
        assert result.rejection is None
        return result.job
    assert result.rejection is not None
    assert result.rejection.Error == "InvalidRequest"
    assert result.rejection.Cause, "an InvalidRequest must say why"
    return result.rejection.Cause


def refusal(body: bytes | str | Any) -> str:
    raw = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    outcome = job_or_readable_refusal(raw)
    assert isinstance(outcome, str), f"accepted: {outcome!r}"
    return outcome


# --- strategies -----------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)
REF_PREFIXES = [
    "",
    "./",
    "../",
    "../../",
    "/",
    "s3://",
    f"s3://{INPUT_BUCKET}/",
    "s3://other-bucket/",
    "https://",
    "https://cdn.example.com/",
    "https://[",
    "s3://[",
    "HTTPS://",
    "http://",
    "file://",
    "ftp://",
    "\x00",
]
media_refs = st.builds(
    lambda prefix, rest: prefix + rest, st.sampled_from(REF_PREFIXES), st.text(max_size=30)
) | st.sampled_from(["alice.png", "voice/alice.wav", f"s3://{INPUT_BUCKET}/media/a.png", "https://cdn.example.com/a"])
OPTION_NAMES = sorted(
    {
        *HunyuanAvatarOptions.model_fields,
        *KlingAvatarOptions.model_fields,
        *VolcengineOmniHumanOptions.model_fields,
    }
)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "provider": st.sampled_from(sorted(PROVIDERS)) | st.none() | st.text(max_size=30),
    "image": media_refs | json_values,
    "audio": media_refs | json_values,
    "prompt": st.text(max_size=50) | json_values,
    "seed": st.integers(min_value=-5, max_value=2**32) | json_values,
    "options": st.dictionaries(st.sampled_from(OPTION_NAMES) | st.text(max_size=10), json_values, max_size=3)
    | json_values,
    "aigc_meta": st.dictionaries(
        st.sampled_from(["content_producer", "producer_id", "content_propagator", "propagate_id", "x"]),
        st.text(max_size=10) | json_values,
        max_size=4,
    ),
    "output_prefix": st.from_regex(r"[A-Za-z0-9./_-]{0,20}/?", fullmatch=True) | st.text(max_size=20),
    "job_id": st.from_regex(r"[A-Za-z0-9._-]{1,70}", fullmatch=True) | st.text(max_size=20) | json_values,
    "max_cost_usd": st.floats(allow_nan=False, allow_infinity=False) | json_values,
}
assert set(FIELD_VALUES) == set(JobRequest.model_fields), "a new request field needs a strategy"
request_like = st.fixed_dictionaries({}, optional=FIELD_VALUES) | st.dictionaries(
    st.sampled_from(sorted(FIELD_VALUES)) | st.text(max_size=10), json_values, max_size=6
)


# --- properties -----------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(json_values)
def test_any_json_value_is_a_job_or_an_invalid_request(value: Any) -> None:
    job_or_readable_refusal(json.dumps(value).encode())


@PROPERTY_SETTINGS
@given(request_like)
def test_any_request_shaped_object_is_a_job_or_an_invalid_request(request: dict[str, Any]) -> None:
    job_or_readable_refusal(json.dumps(request).encode())


@PROPERTY_SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_are_a_job_or_an_invalid_request(body: bytes) -> None:
    job_or_readable_refusal(body)


@PROPERTY_SETTINGS
@given(st.dictionaries(st.sampled_from(["image", "audio"]), media_refs, min_size=2))
def test_accepted_media_stay_in_the_input_bucket_or_on_https(refs: dict[str, str]) -> None:
    outcome = job_or_readable_refusal(json.dumps(refs).encode())
    if isinstance(outcome, Job):
        for source in (outcome.image, outcome.audio):
            assert source is not None
            if source.s3 is not None:
                assert source.s3.bucket == INPUT_BUCKET
                if not refs[field_of(outcome, source)].startswith("s3://"):
                    assert source.s3.key.startswith("jobs/campaign/"), "a relative key stays in the manifest's folder"
                assert ".." not in source.s3.key.split("/")
                assert all(ord(ch) >= 32 for ch in source.s3.key)
            else:
                assert source.url is not None
                assert source.url.lower().startswith("https://")


def field_of(job: Job, source: object) -> str:
    return "image" if source is job.image else "audio"


# --- specific shapes ------------------------------------------------------------------------------

VALID = {"image": "alice.png", "audio": "alice.wav"}


def test_the_valid_baseline_is_accepted() -> None:
    outcome = job_or_readable_refusal(json.dumps(VALID).encode())
    assert isinstance(outcome, Job)
    assert outcome.image.s3 == S3Location(bucket=INPUT_BUCKET, key="jobs/campaign/alice.png")


def nested(depth: int) -> dict[str, Any]:
    """A request ``depth`` objects deep: the request itself is level 1, its options level 2, and so on."""
    inner: Any = "x"
    for _ in range(depth - 1):
        inner = {"k": inner}
    return {**VALID, "options": inner}


def test_nesting_33_deep_is_refused() -> None:
    message = refusal(nested(MAX_MANIFEST_DEPTH + 1))
    assert message == f"manifest {MANIFEST_URI} is nested deeper than {MAX_MANIFEST_DEPTH} levels"


def test_nesting_32_deep_passes_the_depth_check() -> None:
    message = refusal(nested(MAX_MANIFEST_DEPTH))  # refused, but for its unknown option, not its depth
    assert "nested" not in message
    assert "unknown option(s) for wavespeed/omnihuman-1.5: k" in message


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_nesting_beyond_the_parser_is_refused_readably(opening: bytes) -> None:
    closing = b"]" if opening == b"[" else b"}"
    message = refusal(opening * 50_000 + b"1" + closing * 50_000)
    assert message in (
        f"manifest {MANIFEST_URI} is nested too deeply",
        f"manifest {MANIFEST_URI} is nested deeper than {MAX_MANIFEST_DEPTH} levels",
    )


def test_not_utf8_is_refused() -> None:
    assert refusal(b'{"image": "caf\xe9.png"}') == f"manifest {MANIFEST_URI} is not UTF-8 text"


def test_utf8_bom_is_refused_as_not_json() -> None:
    assert refusal(b'\xef\xbb\xbf{"image": "a.png"}').startswith(f"manifest {MANIFEST_URI} is not valid JSON")


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"[]", "list"), (b'["alice.png"]', "list"), (b'"alice.png"', "str"), (b"42", "int"), (b"4.2", "float")],
)
def test_top_level_that_is_not_an_object_is_refused(body: bytes, kind: str) -> None:
    assert refusal(body) == (f"manifest {MANIFEST_URI} must be a JSON object with the job request fields, got {kind}")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(constant: str) -> None:
    message = refusal(f'{{"image": "a.png", "audio": "a.wav", "seed": {constant}}}')
    assert message.startswith(f"manifest {MANIFEST_URI} is not valid JSON: ")
    assert f"{constant.lstrip('-')} is not a JSON number" in message


def test_python_serialised_nan_is_refused() -> None:
    assert "NaN is not a JSON number" in refusal(json.dumps({**VALID, "seed": math.nan}))


def test_empty_and_whitespace_manifests_are_refused() -> None:
    for body in (b"", b"   \n"):
        assert refusal(body).startswith(f"manifest {MANIFEST_URI} is not valid JSON")


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("../", "must not contain empty, '.' or '..' segments"),
        ("a/../../", "must not contain empty, '.' or '..' segments"),
        ("a//b/", "must not contain empty, '.' or '..' segments"),
        ("./", "must not contain empty, '.' or '..' segments"),
        ("/campaign/", "must not start with '/'"),
        ("campaign", "must end with '/'"),
        ("camp\x00aign/", "may only contain letters, digits, '/' and !_.*'()-"),
        ("camp\naign/", "may only contain letters, digits, '/' and !_.*'()-"),
        ("camp aign/", "may only contain letters, digits, '/' and !_.*'()-"),
        ("café/", "may only contain letters, digits, '/' and !_.*'()-"),
        ("a\\b/", "may only contain letters, digits, '/' and !_.*'()-"),
        ("a" * MAX_OUTPUT_PREFIX_CHARS + "/", f"at most {MAX_OUTPUT_PREFIX_CHARS} characters"),
    ],
)
def test_output_prefix_escapes_are_refused(prefix: str, problem: str) -> None:
    message = refusal({**VALID, "output_prefix": prefix})
    assert message.startswith(f"manifest {MANIFEST_URI} is not a valid job request: output_prefix: ")
    assert problem in message


@pytest.mark.parametrize(
    "job_id",
    ["..", "a..b", "../x", "/abs", ".hidden", "-dash", "a/b", "a b", "a\x00b", "a\nb", "é", "", "a" * 65],
)
def test_job_id_escapes_are_refused(job_id: str) -> None:
    message = refusal({**VALID, "job_id": job_id})
    assert message.startswith(f"manifest {MANIFEST_URI} is not a valid job request: job_id: ")


@pytest.mark.parametrize("job_id", ["a", "A.b_c-9", "x" * 64, "2025-03-01.alice"])
def test_reasonable_job_ids_are_kept(job_id: str) -> None:
    outcome = job_or_readable_refusal(json.dumps({**VALID, "job_id": job_id}).encode())
    assert isinstance(outcome, Job)
    assert outcome.job_id == job_id
    assert outcome.output_key("video.mp4") == f"{job_id}/video.mp4"


@pytest.mark.parametrize("ref", ["https://[cdn.example.com/a.png", "s3://[bucket/a.png", "https://[::1/a.png"])
def test_unparseable_urls_are_an_invalid_request(ref: str) -> None:
    message = refusal({"image": ref, "audio": "alice.wav"})
    assert message.startswith(f"image {ref!r} ")


def test_media_ref_with_control_characters_is_refused() -> None:
    assert refusal({"image": "ali\x00ce.png", "audio": "alice.wav"}) == "image contains control characters"
