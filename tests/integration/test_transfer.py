"""``copy_stream_to_s3``: streamed, verified multipart copies into a versioned (moto) bucket."""

import itertools
import struct
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from avatar_pipeline import aws as pipeline_aws
from avatar_pipeline.errors import InvalidRequest, ProviderUnavailable
from avatar_pipeline.parts import UPLOAD_THREADS
from avatar_pipeline.transfer import BadBody, Mp4BodyCheck, OutOfTime, copy_stream_to_s3
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.s3_checksums import crc32_of, stored_crc32

pytestmark = pytest.mark.integration

BUCKET = "avatar-output"
KEY = "campaign-7/job-1/video.mp4"
CHUNK = 256 * 1024
PART = 5 * 1024 * 1024  # S3's smallest non-final part


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


class FailingS3(SpyS3):
    """A ``SpyS3`` whose calls named in ``failures`` raise the given botocore error instead."""

    def __init__(self, client: Any, failures: dict[str, Exception]) -> None:
        super().__init__(client)
        self.failures = failures

    def upload_part(self, **kwargs: Any) -> Any:
        if "upload_part" in self.failures:
            self.calls.append("upload_part")
            raise self.failures["upload_part"]
        return super().upload_part(**kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in self.failures:

            def failing(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                raise self.failures[name]

            return failing
        return super().__getattr__(name)


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


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


def padded(mp4: bytes, total: int) -> bytes:
    """``mp4`` followed by a ``free`` box that brings it to ``total`` bytes."""
    padding = total - len(mp4) - 8
    return mp4 + struct.pack(">I", 8 + padding) + b"free" + bytes(padding)


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
    assert outcome.crc32 == stored_crc32(s3, BUCKET, KEY) == crc32_of(large_mp4)
    assert outcome.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert outcome.version_id is not None

    stored = s3.get_object(Bucket=BUCKET, Key=KEY)
    assert stored["Body"].read() == large_mp4
    assert stored["ContentType"] == "video/mp4"
    assert stored["VersionId"] == outcome.version_id
    assert stored["ETag"].strip('"').endswith(f"-{len(spy.part_sizes)}")
    assert len(spy.part_sizes) == 3
    assert sum(spy.part_sizes) == len(large_mp4)
    # Bounded memory: every part but the last is exactly one part buffer (S3 needs 5 MiB for each of them).
    assert spy.part_sizes[:-1] == [PART, PART]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_small_mp4_is_a_single_part(s3: Any, talking_mp4: bytes) -> None:
    spy = SpyS3(s3)
    outcome = copy_stream_to_s3(
        chunks(talking_mp4, 1000), s3=spy, bucket=BUCKET, key=KEY, declared_length=None, part_bytes=PART
    )
    assert spy.part_sizes == [len(talking_mp4)]
    assert outcome.crc32 == stored_crc32(s3, BUCKET, KEY) == crc32_of(talking_mp4)
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


def endless_mp4(talking_mp4: bytes) -> Iterator[bytes]:
    """A valid MP4 start, then a ``free`` box of 4 GiB that keeps coming."""
    yield talking_mp4[: talking_mp4.index(b"moov") - 4]
    yield struct.pack(">I", 2**32 - 1) + b"free"
    yield from itertools.repeat(bytes(CHUNK))


def test_a_video_over_the_size_cap_is_cut_at_the_cap_and_its_upload_aborted(s3: Any, talking_mp4: bytes) -> None:
    spy = SpyS3(s3)
    with pytest.raises(BadBody, match=f"the video is larger than the limit of {2 * PART} bytes"):
        copy_stream_to_s3(
            endless_mp4(talking_mp4),
            s3=spy,
            bucket=BUCKET,
            key=KEY,
            declared_length=None,
            check=Mp4BodyCheck(max_bytes=2 * PART),
            part_bytes=PART,
        )
    assert sum(spy.part_sizes) <= 2 * PART, "nothing past the cap was uploaded"
    assert "abort_multipart_upload" in spy.calls
    assert_nothing_stored(s3)


def test_a_video_within_the_size_cap_is_stored(s3: Any, talking_mp4: bytes) -> None:
    outcome = copy_stream_to_s3(
        chunks(talking_mp4), s3=s3, bucket=BUCKET, key=KEY, declared_length=None, check=Mp4BodyCheck(len(talking_mp4))
    )
    assert outcome.size_bytes == len(talking_mp4)


def test_a_body_still_arriving_at_the_deadline_is_stopped_and_its_upload_aborted(s3: Any, talking_mp4: bytes) -> None:
    def dripping() -> Iterator[bytes]:
        yield talking_mp4[:100]
        while True:
            time.sleep(0.01)
            yield b""  # an idle read still lets the deadline be checked

    spy = SpyS3(s3)
    with pytest.raises(OutOfTime, match="the body was still arriving when time ran out, 100 bytes in"):
        copy_stream_to_s3(
            dripping(), s3=spy, bucket=BUCKET, key=KEY, declared_length=None, deadline=time.monotonic() + 0.2
        )
    assert "abort_multipart_upload" in spy.calls
    assert_nothing_stored(s3)


@pytest.mark.parametrize(
    ("failing", "error", "raised", "message"),
    [
        (
            "create_multipart_upload",
            client_error("SlowDown", "CreateMultipartUpload"),
            ProviderUnavailable,
            f"starting an upload to s3://{BUCKET}/{KEY} answered SlowDown (retried)",
        ),
        (
            "upload_part",
            client_error("AccessDenied", "UploadPart"),
            InvalidRequest,
            f"uploading part 1 to s3://{BUCKET}/{KEY} was refused: AccessDenied",
        ),
        (
            "upload_part",
            EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
            ProviderUnavailable,
            f"uploading part 1 to s3://{BUCKET}/{KEY} failed: EndpointConnectionError (retried)",
        ),
        (
            "complete_multipart_upload",
            client_error("InternalError", "CompleteMultipartUpload"),
            ProviderUnavailable,
            f"completing the upload to s3://{BUCKET}/{KEY} answered InternalError (retried)",
        ),
    ],
    ids=["create-throttled", "part-refused", "part-unreachable", "complete-failed"],
)
def test_s3_failures_are_contract_errors_and_leave_nothing_behind(
    s3: Any, talking_mp4: bytes, failing: str, error: Exception, raised: type[Exception], message: str
) -> None:
    failing_s3 = FailingS3(s3, {failing: error})
    with pytest.raises(raised) as caught:
        copy_stream_to_s3(chunks(talking_mp4), s3=failing_s3, bucket=BUCKET, key=KEY, declared_length=None)
    assert str(caught.value) == message
    assert failing_s3.calls.count("abort_multipart_upload") == (failing != "create_multipart_upload")
    assert_nothing_stored(s3)


def test_a_failed_abort_does_not_hide_why_the_copy_failed(s3: Any, talking_mp4: bytes) -> None:
    failing_s3 = FailingS3(s3, {"abort_multipart_upload": client_error("InternalError", "AbortMultipartUpload")})
    with pytest.raises(BadBody, match="incomplete or malformed"):
        copy_stream_to_s3(
            chunks(talking_mp4[:-10]), s3=failing_s3, bucket=BUCKET, key=KEY, declared_length=None, part_bytes=PART
        )
    assert "abort_multipart_upload" in failing_s3.calls


class PartRecordingS3(SpyS3):
    """A ``SpyS3`` that keeps what each upload_part and the completion were given (the body's identity, not bytes)."""

    def __init__(self, client: Any, fail_part: int | None = None) -> None:
        super().__init__(client)
        self.parts: list[dict[str, Any]] = []
        self.completion: dict[str, Any] = {}
        self.fail_part = fail_part

    def upload_part(self, **kwargs: Any) -> Any:
        body = kwargs["Body"]
        self.parts.append({**kwargs, "Body": (id(body), type(body).__name__, crc32_of(bytes(body)))})
        if kwargs["PartNumber"] == self.fail_part:
            raise client_error("InternalError", "UploadPart")
        return super().upload_part(**kwargs)

    def complete_multipart_upload(self, **kwargs: Any) -> Any:
        self.completion = kwargs
        return self._client.complete_multipart_upload(**kwargs)


def test_each_part_carries_its_crc_and_the_object_crc_is_given_to_s3_at_completion(s3: Any, large_mp4: bytes) -> None:
    """S3 checks every part against its CRC-32 and the object against the combined one (FULL_OBJECT)."""
    spy = PartRecordingS3(s3)
    outcome = copy_stream_to_s3(
        chunks(large_mp4), s3=spy, bucket=BUCKET, key=KEY, declared_length=len(large_mp4), part_bytes=PART
    )
    assert [part["ChecksumCRC32"] for part in spy.parts] == [part["Body"][2] for part in spy.parts]
    assert {part["ChecksumAlgorithm"] for part in spy.parts} == {"CRC32"}
    assert spy.completion["ChecksumCRC32"] == outcome.crc32 == crc32_of(large_mp4)
    assert spy.completion["ChecksumType"] == "FULL_OBJECT"
    completed = spy.completion["MultipartUpload"]["Parts"]
    in_order = sorted(spy.parts, key=lambda part: part["PartNumber"])
    assert [part["ChecksumCRC32"] for part in completed] == [part["ChecksumCRC32"] for part in in_order]


def test_part_buffers_are_reused_not_made_per_part(s3: Any, talking_mp4: bytes) -> None:
    """Twelve parts go through the same few buffers: at most one being filled and one per upload in flight."""
    body = padded(talking_mp4, 12 * PART + 1000)
    spy = PartRecordingS3(s3)
    copy_stream_to_s3(chunks(body), s3=spy, bucket=BUCKET, key=KEY, declared_length=len(body), part_bytes=PART)
    full_parts = [part["Body"] for part in spy.parts if part["Body"][1] == "bytearray"]
    assert len(spy.parts) == 13  # twelve full parts and a last, short one
    assert len(full_parts) == 12
    assert len({identity for identity, _kind, _crc in full_parts}) <= UPLOAD_THREADS + 1
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == body


def test_a_part_failing_mid_body_stops_the_copy_without_waiting_for_a_buffer(s3: Any, talking_mp4: bytes) -> None:
    """A failed part's buffer comes back to the pool, so the reader cannot block on it; the failure is raised."""
    body = padded(talking_mp4, 8 * PART)
    spy = PartRecordingS3(s3, fail_part=2)
    with pytest.raises(ProviderUnavailable, match="uploading part 2"):
        copy_stream_to_s3(chunks(body), s3=spy, bucket=BUCKET, key=KEY, declared_length=len(body), part_bytes=PART)
    assert len(spy.parts) < 8, "the copy stopped soon after the failed part, not at the end of the body"
    assert_nothing_stored(s3)


def test_the_pipeline_client_sends_parts_with_a_crc_and_an_unsigned_payload(mocked_aws: None, large_mp4: bytes) -> None:
    """One pass over the bytes: the part's CRC-32 is sent, and botocore does not hash the payload for SigV4."""
    client = pipeline_aws.s3()
    client.create_bucket(Bucket=BUCKET)
    sent: list[dict[str, str]] = []

    def keep_headers(request: Any, **_: Any) -> None:
        sent.append(
            {
                name.lower(): value if isinstance(value, str) else value.decode()
                for name, value in request.headers.items()
            }
        )

    client.meta.events.register("before-send.s3.UploadPart", keep_headers)
    copy_stream_to_s3(
        chunks(large_mp4), s3=client, bucket=BUCKET, key=KEY, declared_length=len(large_mp4), part_bytes=PART
    )
    assert len(sent) == 3
    for headers in sent:
        assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
        assert "x-amz-checksum-crc32" in headers
    assert stored_crc32(client, BUCKET, KEY) == crc32_of(large_mp4)
