"""``copy_stream_to_s3``: streamed, verified multipart copies into a versioned (moto) bucket."""

import hashlib
import struct
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from avatar_pipeline.transfer import MIN_PART_BYTES, BadBody, copy_stream_to_s3

pytestmark = pytest.mark.integration

BUCKET = "avatar-output"
KEY = "campaign-7/job-1/video.mp4"
CHUNK = 256 * 1024
PART = MIN_PART_BYTES  # 5 MiB, S3's smallest non-final part


class SpyS3:
    """Delegates to a real client and records the size of every part handed to ``upload_part``."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.part_sizes: list[int] = []
        self.calls: list[str] = []

    def upload_part(self, **kwargs: Any) -> Any:
        self.part_sizes.append(len(kwargs["Body"]))
        self.calls.append("upload_part")
        return self._client.upload_part(**kwargs)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if callable(attribute):

            def recorded(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return attribute(*args, **kwargs)

            return recorded
        return attribute


@pytest.fixture
def s3(mocked_aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture(scope="module")
def large_mp4(talking_mp4: bytes) -> bytes:
    """The real MP4 followed by a 12 MiB ``free`` box: still valid ISO-BMFF, and bigger than two parts."""
    padding = 12 * 1024 * 1024
    return talking_mp4 + struct.pack(">I", 8 + padding) + b"free" + bytes(padding)


def chunks(data: bytes, size: int = CHUNK) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def assert_nothing_stored(s3: Any) -> None:
    assert s3.list_object_versions(Bucket=BUCKET).get("Versions", []) == []
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_large_mp4_is_stored_complete_in_several_parts(s3: Any, large_mp4: bytes) -> None:
    spy = SpyS3(s3)
    outcome = copy_stream_to_s3(
        chunks(large_mp4), s3=spy, bucket=BUCKET, key=KEY, declared_length=len(large_mp4), part_bytes=PART
    )
    assert outcome.size_bytes == len(large_mp4)
    assert outcome.sha256 == hashlib.sha256(large_mp4).hexdigest()
    assert outcome.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert outcome.version_id is not None

    stored = s3.get_object(Bucket=BUCKET, Key=KEY)
    assert stored["Body"].read() == large_mp4
    assert stored["ContentType"] == "video/mp4"
    assert stored["VersionId"] == outcome.version_id
    assert stored["ETag"].strip('"').endswith(f"-{len(spy.part_sizes)}")
    assert len(spy.part_sizes) == 3
    assert sum(spy.part_sizes) == len(large_mp4)
    # Bounded memory: no part is bigger than one part plus the chunk that crossed the threshold.
    assert max(spy.part_sizes) <= PART + CHUNK
    assert all(size >= PART for size in spy.part_sizes[:-1]), "S3 needs 5 MiB for every part but the last"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_small_mp4_is_a_single_part(s3: Any, talking_mp4: bytes) -> None:
    spy = SpyS3(s3)
    outcome = copy_stream_to_s3(
        chunks(talking_mp4, 1000), s3=spy, bucket=BUCKET, key=KEY, declared_length=None, part_bytes=PART
    )
    assert spy.part_sizes == [len(talking_mp4)]
    assert outcome.sha256 == hashlib.sha256(talking_mp4).hexdigest()
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == talking_mp4


def test_truncated_body_leaves_nothing_behind(s3: Any, large_mp4: bytes) -> None:
    spy = SpyS3(s3)
    arrived = large_mp4[: 2 * PART + 3 * CHUNK]
    with pytest.raises(BadBody, match=f"truncated: {len(arrived)} of {len(large_mp4)} bytes arrived"):
        copy_stream_to_s3(
            chunks(arrived), s3=spy, bucket=BUCKET, key=KEY, declared_length=len(large_mp4), part_bytes=PART
        )
    assert len(spy.part_sizes) == 2, "parts were uploaded before the truncation was noticed"
    assert "abort_multipart_upload" in spy.calls
    assert "complete_multipart_upload" not in spy.calls
    assert_nothing_stored(s3)


def test_truncated_body_of_unknown_length_is_caught_by_the_box_walk(s3: Any, talking_mp4: bytes) -> None:
    with pytest.raises(BadBody, match="incomplete or malformed"):
        copy_stream_to_s3(
            chunks(talking_mp4[:-10], 4096), s3=s3, bucket=BUCKET, key=KEY, declared_length=None, part_bytes=PART
        )
    assert_nothing_stored(s3)


def test_body_longer_than_declared_is_refused(s3: Any, talking_mp4: bytes) -> None:
    with pytest.raises(BadBody, match="longer than its declared"):
        copy_stream_to_s3(
            chunks(talking_mp4, 4096), s3=s3, bucket=BUCKET, key=KEY, declared_length=100, part_bytes=PART
        )
    assert_nothing_stored(s3)


def test_html_body_is_refused(s3: Any) -> None:
    html = b"<!DOCTYPE html><html><head><title>Expired</title></head><body>Request has expired</body></html>"
    with pytest.raises(BadBody, match="not an MP4"):
        copy_stream_to_s3(chunks(html, 16), s3=s3, bucket=BUCKET, key=KEY, declared_length=len(html), part_bytes=PART)
    assert_nothing_stored(s3)


def test_empty_body_is_refused(s3: Any) -> None:
    with pytest.raises(BadBody, match="empty or not an MP4"):
        copy_stream_to_s3(iter([b"", b""]), s3=s3, bucket=BUCKET, key=KEY, declared_length=None, part_bytes=PART)
    assert_nothing_stored(s3)


def test_failure_in_the_source_aborts_the_upload(s3: Any, large_mp4: bytes) -> None:
    def broken() -> Iterator[bytes]:
        yield from chunks(large_mp4[: PART + CHUNK])
        raise ConnectionResetError("peer reset")

    with pytest.raises(ConnectionResetError):
        copy_stream_to_s3(broken(), s3=s3, bucket=BUCKET, key=KEY, declared_length=None, part_bytes=PART)
    assert_nothing_stored(s3)


def test_a_failed_copy_keeps_the_previous_version(s3: Any, talking_mp4: bytes) -> None:
    first = copy_stream_to_s3(chunks(talking_mp4), s3=s3, bucket=BUCKET, key=KEY, declared_length=None)
    with pytest.raises(BadBody):
        copy_stream_to_s3(chunks(talking_mp4[:-1]), s3=s3, bucket=BUCKET, key=KEY, declared_length=len(talking_mp4))
    current = s3.get_object(Bucket=BUCKET, Key=KEY)
    assert current["VersionId"] == first.version_id
    assert current["Body"].read() == talking_mp4
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
