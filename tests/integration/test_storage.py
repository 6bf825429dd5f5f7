"""Bounded S3 reads of manifests and input headers (moto)."""

from typing import Any

import boto3
import pytest
from avatar_pipeline import aws
from avatar_pipeline.errors import InvalidMedia, InvalidRequest
from avatar_pipeline.models import S3Location
from avatar_pipeline.storage import presigned_get, read_head, read_manifest

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
    assert read_manifest(s3, MANIFEST, first, 1024) == b'{"v": 1}'
    assert read_manifest(s3, MANIFEST, None, 1024) == b'{"v": 2}'


def test_manifest_at_the_size_limit_is_read_whole(s3: Any) -> None:
    body = b"x" * 100
    s3.put_object(Bucket=BUCKET, Key=MANIFEST.key, Body=body)
    assert read_manifest(s3, MANIFEST, None, 100) == body


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


def test_read_head_reports_the_full_size(s3: Any) -> None:
    body = bytes(range(256)) * 100
    s3.put_object(Bucket=BUCKET, Key="media/a.bin", Body=body)
    head = read_head(s3, "image", S3Location(bucket=BUCKET, key="media/a.bin"), 64)
    assert head.size == len(body)
    assert head.head == body[:64]


def test_read_head_of_a_small_object(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="media/a.bin", Body=b"abc")
    head = read_head(s3, "audio", S3Location(bucket=BUCKET, key="media/a.bin"), 64)
    assert (head.size, head.head) == (3, b"abc")


def test_read_head_of_an_empty_object(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="media/a.wav", Body=b"")
    with pytest.raises(InvalidMedia, match=rf"audio s3://{BUCKET}/media/a\.wav is empty \(0 bytes\)"):
        read_head(s3, "audio", S3Location(bucket=BUCKET, key="media/a.wav"), 64)


def test_presigned_get_is_sigv4_with_the_given_lifetime(s3: Any) -> None:
    url = presigned_get(aws.s3(), S3Location(bucket=BUCKET, key="media/a b.png"), 900)
    assert url.startswith(f"https://{BUCKET}.s3.amazonaws.com/media/a%20b.png?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert "X-Amz-Expires=900" in url
    assert "X-Amz-Signature=" in url
