"""Bounded S3 reads of manifests and input headers (moto)."""

from typing import Any

import boto3
import pytest
from avatar_pipeline import aws
from avatar_pipeline.errors import InvalidRequest
from avatar_pipeline.intake import MAX_MANIFEST_BYTES, Intake, take_trigger
from avatar_pipeline.models import Job, S3Location
from avatar_pipeline.storage import object_size, presigned_get, read_manifest

pytestmark = pytest.mark.integration

BUCKET = "avatar-input"
MANIFEST = S3Location(bucket=BUCKET, key="jobs/alice.json")


@pytest.fixture
def s3(mocked_aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def test_manifest_is_read_at_the_named_version(s3: Any) -> None:
    first = s3.put_object(Bucket=BUCKET, Key=MANIFEST.key, Body=b'{"v": 1}')["VersionId"]
    s3.put_object(Bucket=BUCKET, Key=MANIFEST.key, Body=b'{"v": 2}')
    assert read_manifest(s3, MANIFEST, first, 1024) == (MANIFEST, b'{"v": 1}')
    assert read_manifest(s3, MANIFEST, None, 1024) == (MANIFEST, b'{"v": 2}')


def test_manifest_at_the_size_limit_is_read_whole(s3: Any) -> None:
    body = b"x" * 100
    s3.put_object(Bucket=BUCKET, Key=MANIFEST.key, Body=body)
    assert read_manifest(s3, MANIFEST, None, 100) == (MANIFEST, body)


def test_oversized_manifest_is_refused(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=MANIFEST.key, Body=b"x" * 101)
    with pytest.raises(InvalidRequest) as caught:
        read_manifest(s3, MANIFEST, None, 100)
    assert caught.value.cause == f"manifest s3://{BUCKET}/jobs/alice.json is 101 bytes; the limit is 100 bytes"


def test_missing_manifest_is_an_invalid_request(s3: Any) -> None:
    with pytest.raises(InvalidRequest, match=f"manifest s3://{BUCKET}/jobs/alice.json no longer exists"):
        read_manifest(s3, MANIFEST, None, 1024)


def test_empty_manifest_is_an_invalid_request(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=MANIFEST.key, Body=b"")
    with pytest.raises(InvalidRequest) as caught:
        read_manifest(s3, MANIFEST, None, 1024)
    assert caught.value.cause == f"manifest s3://{BUCKET}/jobs/alice.json is empty (0 bytes)"


def test_object_size_reports_the_full_size_without_reading_it(s3: Any) -> None:
    body = bytes(range(256)) * 100
    s3.put_object(Bucket=BUCKET, Key="media/a.bin", Body=body)
    assert object_size(s3, "image", S3Location(bucket=BUCKET, key="media/a.bin")) == len(body)


def test_object_size_of_a_missing_object_names_it(s3: Any) -> None:
    with pytest.raises(InvalidRequest, match=rf"audio s3://{BUCKET}/media/none\.wav does not exist"):
        object_size(s3, "audio", S3Location(bucket=BUCKET, key="media/none.wav"))


def test_presigned_get_is_sigv4_with_the_given_lifetime(s3: Any) -> None:
    url = presigned_get(aws.s3(), S3Location(bucket=BUCKET, key="media/a b.png"), 900)
    assert url.startswith(f"https://{BUCKET}.s3.amazonaws.com/media/a%20b.png?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert "X-Amz-Expires=900" in url
    assert "X-Amz-Signature=" in url


def test_url_encoded_event_key_falls_back_to_the_decoded_key(s3: Any) -> None:
    # S3 notifications encode keys: "jobs/alice smith.json" arrives as "jobs/alice+smith.json".
    s3.put_object(Bucket=BUCKET, Key="jobs/alice smith.json", Body=b"{}")
    where, body = read_manifest(s3, S3Location(bucket=BUCKET, key="jobs/alice+smith.json"), None, 1024)
    assert (where, body) == (S3Location(bucket=BUCKET, key="jobs/alice smith.json"), b"{}")


def test_a_key_that_exists_as_given_is_never_decoded(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="jobs/a+b.json", Body=b'{"raw": true}')
    s3.put_object(Bucket=BUCKET, Key="jobs/a b.json", Body=b'{"decoded": true}')
    location = S3Location(bucket=BUCKET, key="jobs/a+b.json")
    assert read_manifest(s3, location, None, 1024) == (location, b'{"raw": true}')


def test_missing_encoded_key_names_the_decoded_key(s3: Any) -> None:
    with pytest.raises(InvalidRequest, match=f"manifest s3://{BUCKET}/jobs/a b.json no longer exists"):
        read_manifest(s3, S3Location(bucket=BUCKET, key="jobs/a+b.json"), None, 1024)


def _intake_from_s3(s3: Any, key: str) -> Any:
    event = {
        "version": "0",
        "id": "1",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": 1700000000,
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": key, "etag": "e"},
            "request-id": "r",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }
    result = take_trigger(
        event,
        execution_name="exec-1",
        input_bucket=BUCKET,
        default_provider="wavespeed/omnihuman-1.5",
        read_manifest=lambda location, version, limit: read_manifest(s3, location, version, limit),
    )
    assert isinstance(result, Intake)
    if result.rejection is not None:
        raise InvalidRequest(result.rejection.Cause or "")
    return result.job


def _manifest_of_size(size: int) -> bytes:
    body = b'{"image": "a.png", "audio": "a.wav"}'
    return body + b" " * (size - len(body))


def test_manifest_of_exactly_256_kib_is_accepted_through_intake(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="jobs/big.json", Body=_manifest_of_size(MAX_MANIFEST_BYTES))
    job = _intake_from_s3(s3, "jobs/big.json")
    assert isinstance(job, Job)
    assert job.image.s3 == S3Location(bucket=BUCKET, key="jobs/a.png")


def test_manifest_over_256_kib_is_refused_through_intake_without_reading_it_whole(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="jobs/big.json", Body=_manifest_of_size(MAX_MANIFEST_BYTES * 4))
    read: list[int] = []
    s3.meta.events.register("after-call.s3.GetObject", lambda parsed, **_: read.append(parsed["ContentLength"]))
    with pytest.raises(InvalidRequest) as caught:
        _intake_from_s3(s3, "jobs/big.json")
    assert caught.value.cause == (
        f"manifest s3://{BUCKET}/jobs/big.json is {MAX_MANIFEST_BYTES * 4} bytes; "
        f"the limit is {MAX_MANIFEST_BYTES} bytes"
    )
    assert read == [MAX_MANIFEST_BYTES + 1], "one ranged GET, one byte past the limit"


def test_url_encoded_manifest_key_is_read_through_intake(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="jobs/team a/alice smith.json", Body=b'{"image": "a b.png", "audio": "a.wav"}')
    job = _intake_from_s3(s3, "jobs/team+a/alice+smith.json")
    assert isinstance(job, Job)
    assert job.manifest == S3Location(bucket=BUCKET, key="jobs/team a/alice smith.json")
    assert job.image.s3 == S3Location(bucket=BUCKET, key="jobs/team a/a b.png"), "relative to the decoded folder"
