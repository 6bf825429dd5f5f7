"""``persist_result``: the provider's video, fetched from a local HTTP server, lands verified in (moto) S3."""

import gzip
import io
import json
import struct
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import av
import boto3
import httpx
import pytest
from avatar_local.simulator.mp4_variants import VARIANTS, variant
from avatar_local.test_chain import make_test_chain
from avatar_pipeline.aigc import AigcLabel
from avatar_pipeline.capabilities import WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.errors import InvalidRequest, ProviderUnavailable, ResultUnavailable
from avatar_pipeline.fetch import FetchPolicy
from avatar_pipeline.models import Job, JobRequest, MediaProbe, MediaSource, ProviderTask, S3Location, ValidatedMedia
from avatar_pipeline.output_video import Finishing
from avatar_pipeline.persistence import MAX_DOWNLOAD_ATTEMPTS, persist_result, time_reserved
from avatar_pipeline.providers.base import (
    InputsFactory,
    PresignedInputs,
    ProviderAdapter,
    ResultLocation,
    TaskCheck,
    TaskRef,
)
from avatar_pipeline.signed_output import SignOutcome
from botocore.exceptions import ClientError
from content_signing.manifests import read_manifest
from content_signing.stored_video import SigningKey

from tests.bombs import MIB, compressed_zeros
from tests.in_process_signer import InProcessSigner
from tests.s3_checksums import crc32_of, stored_crc32

MIN_PART_BYTES = 5 * MIB  # S3's smallest non-final part

pytestmark = pytest.mark.integration

OUTPUT_BUCKET = "avatar-output"
TASK_ID = "pred-42"
REQUESTED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
SUBMITTED = REQUESTED + timedelta(seconds=3)
COMPLETED = SUBMITTED + timedelta(seconds=40)  # when the status check found it done
PROVIDER_COMPLETED = SUBMITTED + timedelta(seconds=37.5)  # when the provider says it finished
NOW = COMPLETED + timedelta(seconds=5)
LOOPBACK_ALLOWED = FetchPolicy(allow_loopback=True)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "video/mp4"
    send_bytes: int | None = None  # fewer than Content-Length: the connection is cut mid-body
    location: str | None = None
    encoding: str | None = None
    content_length: int | None = None  # declared instead of the body's length
    pause: float = 0.0  # seconds of silence between the headers and the body
    then: Callable[[Any], None] | None = None  # writes on after the body (no Content-Length unless declared)


class MediaServer:
    """A stdlib HTTP server on 127.0.0.1 whose answers the test sets per path."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                reply = server.replies.get(self.path, Reply(404, b"not found", "text/plain"))
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                if reply.content_length is not None or reply.then is None:
                    length = len(reply.body) if reply.content_length is None else reply.content_length
                    self.send_header("Content-Length", str(length))
                if reply.location:
                    self.send_header("Location", reply.location)
                if reply.encoding:
                    self.send_header("Content-Encoding", reply.encoding)
                self.end_headers()
                self.wfile.flush()
                time.sleep(reply.pause)
                try:
                    self.wfile.write(reply.body[: reply.send_bytes])
                    self.wfile.flush()
                    if reply.then is not None:
                        reply.then(self.wfile)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as it should have
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "MediaServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeAdapter(ProviderAdapter):
    """Hands out result URLs in order (the last one again once they run out) and counts the asks."""

    def __init__(self, urls: list[str]) -> None:
        self.capabilities = WAVESPEED_OMNIHUMAN_15
        self.urls = urls
        self.asked: list[str] = []

    def submit(self, job: Job, inputs: PresignedInputs) -> TaskRef:
        raise AssertionError("persisting never submits")

    def check(self, job: Job, task: TaskRef, inputs: InputsFactory) -> TaskCheck:
        raise AssertionError("persisting never checks")

    def result(self, job: Job, task: TaskRef) -> ResultLocation:
        self.asked.append(task.task_id)
        return ResultLocation(self.urls[min(len(self.asked), len(self.urls)) - 1])


@pytest.fixture(scope="module")
def server() -> Iterator[MediaServer]:
    with MediaServer() as running:
        yield running


@pytest.fixture(autouse=True)
def reset(server: MediaServer) -> None:
    server.replies.clear()
    server.requests.clear()


@pytest.fixture
def s3(mocked_aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=OUTPUT_BUCKET)
    client.put_bucket_versioning(Bucket=OUTPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as client:
        yield client


def make_job() -> Job:
    request = JobRequest(image="alice.png", audio="alice.wav", output_prefix="campaign-7/", job_id="job-1")
    return Job(
        job_id="job-1",
        provider="wavespeed/omnihuman-1.5",
        image=MediaSource(s3=S3Location(bucket="avatar-input", key="jobs/alice.png")),
        audio=MediaSource(s3=S3Location(bucket="avatar-input", key="jobs/alice.wav")),
        request=request,
        trigger="manifest",
        manifest=S3Location(bucket="avatar-input", key="jobs/alice.json"),
        requested_at=REQUESTED,
    )


def make_task() -> ProviderTask:
    return ProviderTask(
        provider="wavespeed/omnihuman-1.5",
        task_id=TASK_ID,
        status="succeeded",
        submitted_at=SUBMITTED,
        deadline=SUBMITTED + timedelta(hours=3),
        polls=4,
        next_wait_seconds=0,
        estimated_generation_seconds=12.0,
        provider_completed_at=PROVIDER_COMPLETED,
        detected_at=COMPLETED,
    )


def make_media() -> ValidatedMedia:
    return ValidatedMedia(
        image=MediaProbe(
            source="s3://avatar-input/jobs/alice.png",
            location=S3Location(bucket="avatar-input", key="jobs/alice.png"),
            format="png",
            size_bytes=1000,
            width=512,
            height=512,
        ),
        audio=MediaProbe(
            source="s3://avatar-input/jobs/alice.wav",
            location=S3Location(bucket="avatar-input", key="jobs/alice.wav"),
            format="wav",
            size_bytes=96044,
            duration_seconds=2.0,
        ),
    )


def persist(adapter: FakeAdapter, s3: Any, http: httpx.Client, **kwargs: Any) -> Any:
    options = {
        "max_result_bytes": 64 * MIB,
        "read_timeout_seconds": 10.0,
        "seconds_left": 900.0,
        "fetch_policy": LOOPBACK_ALLOWED,
        **kwargs,
    }
    return persist_result(
        make_job(),
        make_task(),
        make_media(),
        adapter=adapter,
        s3=s3,
        http=http,
        output_bucket=OUTPUT_BUCKET,
        now=NOW,
        **options,
    )


def assert_nothing_stored(s3: Any) -> None:
    assert s3.list_object_versions(Bucket=OUTPUT_BUCKET).get("Versions", []) == []
    assert s3.list_multipart_uploads(Bucket=OUTPUT_BUCKET).get("Uploads", []) == []


def test_success_writes_the_video_and_result_json(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    adapter = FakeAdapter([f"{server.url}/v.mp4"])
    persisted = persist(adapter, s3, http)

    crc = crc32_of(talking_mp4)
    video = s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/video.mp4")
    assert video["Body"].read() == talking_mp4
    assert video["ContentType"] == "video/mp4"
    assert persisted.video_uri == f"s3://{OUTPUT_BUCKET}/campaign-7/job-1/video.mp4"
    assert persisted.result_uri == f"s3://{OUTPUT_BUCKET}/campaign-7/job-1/result.json"
    assert persisted.version_id == video["VersionId"]
    assert (persisted.size_bytes, persisted.crc32) == (len(talking_mp4), crc)
    assert stored_crc32(s3, OUTPUT_BUCKET, "campaign-7/job-1/video.mp4") == crc, "S3's own checksum of what it stored"
    assert persisted.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert adapter.asked == [TASK_ID]

    result_object = s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/result.json")
    assert result_object["ContentType"] == "application/json"
    result = json.loads(result_object["Body"].read())
    assert result["job_id"] == "job-1"
    assert result["provider"] == "wavespeed/omnihuman-1.5"
    assert result["provider_task_id"] == TASK_ID
    assert result["trigger"] == "manifest"
    assert result["manifest"] == "s3://avatar-input/jobs/alice.json"
    assert result["request"]["image"] == "alice.png"
    assert result["inputs"]["audio"]["duration_seconds"] == 2.0
    assert result["output"] == {
        "video_uri": persisted.video_uri,
        "version_id": video["VersionId"],
        "size_bytes": len(talking_mp4),
        "checksum": {"algorithm": "CRC32", "type": "FULL_OBJECT", "value": crc},
        "duration_seconds": persisted.duration_seconds,
    }
    assert result["timings"] == {
        "requested_at": REQUESTED.isoformat(),
        "submitted_at": SUBMITTED.isoformat(),
        "provider_completed_at": PROVIDER_COMPLETED.isoformat(),
        "detected_at": COMPLETED.isoformat(),
        "persisted_at": NOW.isoformat(),
        "generation_seconds": 37.5,
        "generation_seconds_source": "provider",
        "detection_lag_seconds": 2.5,
        "total_seconds": 48.0,
        "status_checks": 4,
    }
    assert persisted.timings == result["timings"], "what RecordOutcome copies onto the job's record"
    assert result["estimated_cost_usd"] == round(0.15 * persisted.duration_seconds, 4)
    assert result["estimated_cost_usd"] == pytest.approx(0.30, abs=0.02)
    assert persisted.estimated_cost_usd == result["estimated_cost_usd"]


def test_large_video_streams_in_parts(server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes) -> None:
    padding = 11 * 1024 * 1024
    body = talking_mp4 + struct.pack(">I", 8 + padding) + b"free" + bytes(padding)
    server.replies["/big.mp4"] = Reply(body=body)
    persisted = persist(FakeAdapter([f"{server.url}/big.mp4"]), s3, http, part_bytes=MIN_PART_BYTES)
    assert persisted.crc32 == crc32_of(body) == stored_crc32(s3, OUTPUT_BUCKET, "campaign-7/job-1/video.mp4")
    head = s3.head_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/video.mp4")
    assert head["ContentLength"] == len(body)
    assert head["ETag"].strip('"').endswith("-3")


def test_expired_url_is_replaced_by_a_fresh_one(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/expired.mp4"] = Reply(403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml")
    server.replies["/fresh.mp4"] = Reply(body=talking_mp4)
    adapter = FakeAdapter([f"{server.url}/expired.mp4", f"{server.url}/fresh.mp4"])
    persisted = persist(adapter, s3, http)
    assert adapter.asked == [TASK_ID, TASK_ID]
    assert server.requests == ["/expired.mp4", "/fresh.mp4"]
    assert persisted.crc32 == crc32_of(talking_mp4)
    assert s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/video.mp4")["Body"].read() == talking_mp4


def test_redirects_are_followed(server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes) -> None:
    server.replies["/short"] = Reply(302, b"", "text/plain", location="/real.mp4")
    server.replies["/real.mp4"] = Reply(body=talking_mp4)
    persisted = persist(FakeAdapter([f"{server.url}/short"]), s3, http)
    assert server.requests == ["/short", "/real.mp4"]
    assert persisted.size_bytes == len(talking_mp4)


def test_compressed_transfer_stores_the_decoded_video(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    """Content-Length counts the gzip bytes on the wire; what is verified and stored is the MP4 itself."""
    server.replies["/gz.mp4"] = Reply(body=gzip.compress(talking_mp4), encoding="gzip")
    persisted = persist(FakeAdapter([f"{server.url}/gz.mp4"]), s3, http)
    assert persisted.crc32 == crc32_of(talking_mp4)
    assert s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/video.mp4")["Body"].read() == talking_mp4


def test_always_truncated_is_result_unavailable(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/cut.mp4"] = Reply(body=talking_mp4, send_bytes=len(talking_mp4) // 2)
    adapter = FakeAdapter([f"{server.url}/cut.mp4"])
    with pytest.raises(ResultUnavailable) as caught:
        persist(adapter, s3, http)
    cause = caught.value.cause
    assert f"task {TASK_ID}" in cause
    assert f"after {MAX_DOWNLOAD_ATTEMPTS} attempts" in cause
    assert "cut off" in cause
    assert adapter.asked == [TASK_ID] * MAX_DOWNLOAD_ATTEMPTS
    assert_nothing_stored(s3)


def test_server_error_is_provider_unavailable(server: MediaServer, s3: Any, http: httpx.Client) -> None:
    server.replies["/v.mp4"] = Reply(500, b"internal error", "text/plain")
    adapter = FakeAdapter([f"{server.url}/v.mp4"])
    with pytest.raises(ProviderUnavailable, match="answered HTTP 500"):
        persist(adapter, s3, http)
    assert adapter.asked == [TASK_ID], "a server error is retried by the state machine, not here"
    assert_nothing_stored(s3)


def test_html_instead_of_video_is_result_unavailable_after_three_attempts(
    server: MediaServer, s3: Any, http: httpx.Client
) -> None:
    server.replies["/v.mp4"] = Reply(
        body=b"<!DOCTYPE html><html><body>Please sign in</body></html>", content_type="text/html"
    )
    adapter = FakeAdapter([f"{server.url}/v.mp4"])
    with pytest.raises(ResultUnavailable) as caught:
        persist(adapter, s3, http)
    assert adapter.asked == [TASK_ID] * 3
    assert server.requests == ["/v.mp4"] * 3
    assert "not an MP4" in caught.value.cause
    assert f"task {TASK_ID}" in caught.value.cause
    assert_nothing_stored(s3)


def test_private_address_is_never_fetched(server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    adapter = FakeAdapter(["http://169.254.169.254/latest/meta-data/", f"{server.url}/v.mp4"])
    persisted = persist(adapter, s3, http)
    assert adapter.asked == [TASK_ID, TASK_ID]
    assert server.requests == ["/v.mp4"]
    assert persisted.size_bytes == len(talking_mp4)


def test_redirect_loop_is_result_unavailable(server: MediaServer, s3: Any, http: httpx.Client) -> None:
    server.replies["/loop"] = Reply(302, b"", "text/plain", location="/loop")
    with pytest.raises(ResultUnavailable, match="redirected more than 3 times"):
        persist(FakeAdapter([f"{server.url}/loop"]), s3, http)
    assert_nothing_stored(s3)


def test_a_rerun_after_a_crash_mid_copy_aborts_the_open_upload_and_stores_one_complete_video(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    key = "campaign-7/job-1/video.mp4"
    crashed = s3.create_multipart_upload(Bucket=OUTPUT_BUCKET, Key=key)  # what a killed attempt leaves behind
    s3.upload_part(Bucket=OUTPUT_BUCKET, Key=key, UploadId=crashed["UploadId"], PartNumber=1, Body=talking_mp4[:100])
    server.replies["/v.mp4"] = Reply(body=talking_mp4)

    persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http)

    assert s3.list_multipart_uploads(Bucket=OUTPUT_BUCKET).get("Uploads", []) == []
    versions = s3.list_object_versions(Bucket=OUTPUT_BUCKET, Prefix=key)["Versions"]
    assert len(versions) == 1
    assert s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read() == talking_mp4


def test_a_rerun_after_everything_was_stored_copies_nothing_again(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    first = persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http)
    rerun_adapter = FakeAdapter([f"{server.url}/v.mp4"])

    again = persist(rerun_adapter, s3, http)

    assert again == first
    assert rerun_adapter.asked == [], "no new download"
    assert len(s3.list_object_versions(Bucket=OUTPUT_BUCKET, Prefix="campaign-7/job-1/video.mp4")["Versions"]) == 1


def test_a_rerun_finds_a_result_json_written_before_checksums_and_copies_nothing(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    """A job stored by an earlier release has ``output.sha256`` and no ``output.checksum``: still found, kept as is."""
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    first = persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http)
    document = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/result.json")["Body"].read())
    del document["output"]["checksum"]
    document["output"]["sha256"] = "0" * 64
    old = json.dumps(document).encode()
    s3.put_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/result.json", Body=old)
    rerun_adapter = FakeAdapter([f"{server.url}/v.mp4"])

    again = persist(rerun_adapter, s3, http)

    assert rerun_adapter.asked == [], "no new download"
    assert again.crc32 is None
    assert again.model_dump(exclude={"crc32"}) == first.model_dump(exclude={"crc32"})
    assert s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/result.json")["Body"].read() == old


def test_a_result_host_that_does_not_resolve_is_retried_as_unavailable(s3: Any, http: httpx.Client) -> None:
    def failing(host: str, port: int) -> list[Any]:
        raise OSError("Temporary failure in name resolution")

    with pytest.raises(ProviderUnavailable, match="did not resolve"):
        persist(FakeAdapter(["https://cdn.example.test/v.mp4"]), s3, http, fetch_policy=FetchPolicy(resolver=failing))
    assert_nothing_stored(s3)


# --- bounded size ---------------------------------------------------------------------------------


def mp4_start(talking_mp4: bytes, free_box_bytes: int) -> bytes:
    """The MP4's ``ftyp`` box, then the header of a ``free`` box of ``free_box_bytes`` (its body not included)."""
    return talking_mp4[: talking_mp4.index(b"moov") - 4] + struct.pack(">I", 8 + free_box_bytes) + b"free"


def zeros_forever(wfile: Any) -> None:
    zeros = bytes(256 * 1024)
    while True:
        wfile.write(zeros)


def test_a_result_that_keeps_coming_is_cut_at_the_cap(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/endless.mp4"] = Reply(body=mp4_start(talking_mp4, 2**32 - 9), then=zeros_forever)
    adapter = FakeAdapter([f"{server.url}/endless.mp4"])
    with pytest.raises(ResultUnavailable) as caught:
        persist(adapter, s3, http, max_result_bytes=12 * MIB, part_bytes=MIN_PART_BYTES)
    assert f"the video is larger than the limit of {12 * MIB} bytes" in caught.value.cause
    assert adapter.asked == [TASK_ID] * MAX_DOWNLOAD_ATTEMPTS
    assert_nothing_stored(s3)


def test_a_result_declared_over_the_cap_is_refused_before_reading(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    # The body never comes: reading it would wait for the read timeout instead of failing at once.
    server.replies["/huge.mp4"] = Reply(body=talking_mp4[:1000], content_length=3 * 2**30, send_bytes=1000)
    with pytest.raises(ResultUnavailable) as caught:
        persist(FakeAdapter([f"{server.url}/huge.mp4"]), s3, http, max_result_bytes=2**31, read_timeout_seconds=30.0)
    assert f"the video is {3 * 2**30} bytes; the limit is {2**31} bytes" in caught.value.cause
    assert_nothing_stored(s3)


def test_a_gzip_bomb_result_is_cut_at_the_cap_in_bounded_memory(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    decoded_bytes = 256 * MIB
    bomb = compressed_zeros(decoded_bytes, prefix=mp4_start(talking_mp4, 2**32 - 9))
    server.replies["/bomb.mp4"] = Reply(body=bomb, encoding="gzip")
    tracemalloc.start()
    try:
        with pytest.raises(ResultUnavailable) as caught:
            persist(FakeAdapter([f"{server.url}/bomb.mp4"]), s3, http, max_result_bytes=4 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nresult gzip bomb (1:{decoded_bytes // len(bomb)}): peak Python memory {peak / MIB:.1f} MiB")
    assert f"the video is larger than the limit of {4 * MIB} bytes" in caught.value.cause
    assert_nothing_stored(s3)
    assert peak < 32 * MIB


def test_a_result_declared_gzip_that_is_not_is_result_unavailable(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4, encoding="gzip")
    adapter = FakeAdapter([f"{server.url}/v.mp4"])
    with pytest.raises(ResultUnavailable) as caught:
        persist(adapter, s3, http)
    assert "the video is not valid gzip data (Error -3 while decompressing data" in caught.value.cause
    assert adapter.asked == [TASK_ID] * MAX_DOWNLOAD_ATTEMPTS
    assert_nothing_stored(s3)


def test_a_result_in_a_coding_that_is_not_decoded_is_result_unavailable(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4, encoding="br")
    with pytest.raises(ResultUnavailable, match="the video came with Content-Encoding 'br'"):
        persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http)
    assert server.requests == ["/v.mp4"] * MAX_DOWNLOAD_ATTEMPTS


def test_the_result_is_asked_for_uncoded(server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes) -> None:
    seen: list[str | None] = []
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    http.event_hooks["request"].append(lambda request: seen.append(request.headers.get("Accept-Encoding")))
    persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http)
    assert seen == ["identity"]


# --- ports ----------------------------------------------------------------------------------------


def test_a_result_url_with_a_port_out_of_range_is_replaced_by_a_fresh_one(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    adapter = FakeAdapter(["http://127.0.0.1:99999/v.mp4", f"{server.url}/v.mp4"])
    assert persist(adapter, s3, http).size_bytes == len(talking_mp4)
    assert adapter.asked == [TASK_ID, TASK_ID]


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("http://127.0.0.1:99999/v.mp4", "the URL is not valid (Port out of range 0-65535)"),
        ("http://cdn]x.example.test/v.mp4", "'http://cdn]x.example.test/v.mp4' is not a valid URL (Invalid IPv6 URL)"),
    ],
)
def test_a_redirect_to_an_unusable_url_is_result_unavailable(
    server: MediaServer, s3: Any, http: httpx.Client, location: str, problem: str
) -> None:
    server.replies["/short"] = Reply(302, b"", "text/plain", location=location)
    with pytest.raises(ResultUnavailable) as caught:
        persist(FakeAdapter([f"{server.url}/short"]), s3, http)
    assert caught.value.cause.endswith(f"attempts with fresh URLs: {'; '.join([problem] * MAX_DOWNLOAD_ATTEMPTS)}")
    assert server.requests == ["/short"] * MAX_DOWNLOAD_ATTEMPTS
    assert_nothing_stored(s3)


# --- bounded time ---------------------------------------------------------------------------------


def drip(wfile: Any) -> None:
    for _ in range(600):  # 30 s at most, far beyond the test's deadline
        wfile.write(b"\0")
        wfile.flush()
        time.sleep(0.05)


def test_a_result_still_dripping_at_the_deadline_is_aborted_as_provider_unavailable(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/slow.mp4"] = Reply(body=mp4_start(talking_mp4, 10 * MIB), content_length=20 * MIB, then=drip)
    adapter = FakeAdapter([f"{server.url}/slow.mp4"])
    with pytest.raises(ProviderUnavailable) as caught:
        persist(adapter, s3, http, read_timeout_seconds=2.0, seconds_left=time_reserved(2.0) + 1.0)
    assert caught.value.cause.startswith(f"copying the video of wavespeed/omnihuman-1.5 task {TASK_ID} ran out of")
    assert "the body was still arriving when time ran out" in caught.value.cause
    assert adapter.asked == [TASK_ID], "no fresh URL: there is no time left to use it"
    assert_nothing_stored(s3)


def test_no_download_starts_once_the_deadline_has_passed(server: MediaServer, s3: Any, http: httpx.Client) -> None:
    with pytest.raises(ProviderUnavailable, match="no time was left to start the download"):
        persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http, seconds_left=time_reserved(10.0) - 1.0)
    assert server.requests == []


def test_the_configured_read_timeout_bounds_each_wait(
    server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes
) -> None:
    server.replies["/stall.mp4"] = Reply(body=talking_mp4, pause=3.0)
    with pytest.raises(ProviderUnavailable, match=r"downloading the result timed out \(ReadTimeout\)"):
        persist(FakeAdapter([f"{server.url}/stall.mp4"]), s3, http, read_timeout_seconds=0.5)
    assert_nothing_stored(s3)


# --- S3 failures ----------------------------------------------------------------------------------


class FailingS3:
    """A real client whose ``failing`` call raises ``error`` instead."""

    def __init__(self, client: Any, failing: str, error: ClientError) -> None:
        self._client, self.failing, self.error = client, failing, error

    def __getattr__(self, name: str) -> Any:
        if name == self.failing:

            def fail(**kwargs: Any) -> Any:
                raise self.error

            return fail
        return getattr(self._client, name)


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "S3")


@pytest.mark.parametrize(
    ("failing", "code", "raised", "message"),
    [
        ("get_object", "SlowDown", ProviderUnavailable, "reading s3://avatar-output/campaign-7/job-1/result.json"),
        ("list_multipart_uploads", "AccessDenied", InvalidRequest, "aborting uploads left open at s3://avatar-output"),
        ("put_object", "InternalError", ProviderUnavailable, "writing s3://avatar-output/campaign-7/job-1/result.json"),
        ("upload_part", "AccessDenied", InvalidRequest, "uploading part 1 to s3://avatar-output/campaign-7/job-1"),
    ],
)
def test_s3_failures_are_contract_errors(
    server: MediaServer,
    s3: Any,
    http: httpx.Client,
    talking_mp4: bytes,
    failing: str,
    code: str,
    raised: type[Exception],
    message: str,
) -> None:
    server.replies["/v.mp4"] = Reply(body=talking_mp4)
    with pytest.raises(raised) as caught:
        persist(FakeAdapter([f"{server.url}/v.mp4"]), FailingS3(s3, failing, client_error(code)), http)
    assert str(caught.value).startswith(message)
    assert code in str(caught.value)
    assert s3.list_multipart_uploads(Bucket=OUTPUT_BUCKET).get("Uploads", []) == []


# The AIGC label required: every provider layout becomes a labelled video.mp4 (read back with PyAV), stream bytes
# unchanged, the staged provider file removed; a video that cannot be labelled is refused, nothing stored.
LABEL = AigcLabel(ContentProducer="Studio 9131", ProduceID="job-1", ContentPropagator="Studio CDN", PropagateID="p-1")
VIDEO_KEY = "campaign-7/job-1/video.mp4"


def _packets(data: bytes) -> list[tuple[int, int | None, bytes]]:
    with av.open(io.BytesIO(data)) as container:
        return [(p.stream.index, p.pts, bytes(p)) for p in container.demux() if p.size]


@pytest.mark.parametrize("layout", VARIANTS)
def test_every_layout_is_stored_labelled_with_its_streams_unchanged(
    server: MediaServer,
    s3: Any,
    http: httpx.Client,
    layout: str,
) -> None:
    source = variant(layout)
    server.replies["/v.mp4"] = Reply(body=source)
    persisted = persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http, finishing=Finishing(LABEL, None))

    stored = s3.get_object(Bucket=OUTPUT_BUCKET, Key=VIDEO_KEY)["Body"].read()
    with av.open(io.BytesIO(stored)) as container:
        assert json.loads(container.metadata["AIGC"]) == LABEL.model_dump()
    assert _packets(stored) == _packets(source)
    assert (persisted.size_bytes, persisted.crc32) == (len(stored), crc32_of(stored))
    assert stored_crc32(s3, OUTPUT_BUCKET, VIDEO_KEY) == persisted.crc32
    assert persisted.aigc_label == LABEL.model_dump()
    result = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/result.json")["Body"].read())
    assert result["aigc_label"] == {"fields": LABEL.model_dump(), "provider_tagged": None}
    assert result["c2pa"] is None
    assert result["output"]["checksum"]["value"] == persisted.crc32
    listed = s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="staging/").get("Contents", [])
    assert listed == []  # the staged provider file is gone once video.mp4 is written


def test_a_video_that_cannot_be_labelled_is_refused_not_stored_unlabelled(
    server: MediaServer,
    s3: Any,
    http: httpx.Client,
) -> None:
    source = variant("moov_last")
    moov_at = source.rindex(b"moov") - 4
    # A moov whose only trak's box claims to run past the moov: the labeller cannot rewrite it.
    broken = source[:moov_at] + source[moov_at : moov_at + 8] + b"\xff\xff\xff\xfftrak" + source[moov_at + 16 :]
    server.replies["/bad.mp4"] = Reply(body=broken)
    with pytest.raises(ResultUnavailable, match="cannot be labelled"):
        persist(FakeAdapter([f"{server.url}/bad.mp4"]), s3, http, finishing=Finishing(LABEL, None))
    assert s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("KeyCount", 0) == 0


def test_without_a_label_the_provider_file_is_stored_as_it_came(
    server: MediaServer,
    s3: Any,
    http: httpx.Client,
) -> None:
    source = variant("moov_first")
    server.replies["/v.mp4"] = Reply(body=source)
    persisted = persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http)
    assert s3.get_object(Bucket=OUTPUT_BUCKET, Key=VIDEO_KEY)["Body"].read() == source
    assert persisted.aigc_label is None


@pytest.mark.parametrize("layout", ["moov_last", "fragmented"])
def test_with_a_certificate_chain_the_labelled_video_is_signed(
    server: MediaServer, s3: Any, http: httpx.Client, layout: str, tmp_path: Any
) -> None:
    chain = make_test_chain()
    signer = InProcessSigner(
        s3, "wavespeed/omnihuman-1.5", SigningKey(chain.certificate_chain_pem, chain.private_key_pem)
    )
    server.replies["/v.mp4"] = Reply(body=variant(layout))
    persisted = persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http, finishing=Finishing(LABEL, signer))

    stored = tmp_path / "video.mp4"
    stored.write_bytes(s3.get_object(Bucket=OUTPUT_BUCKET, Key=VIDEO_KEY)["Body"].read())
    with av.open(str(stored)) as container:
        assert json.loads(container.metadata["AIGC"]) == LABEL.model_dump()
    report = read_manifest(stored, trust_anchors_pem=chain.root_pem)
    assert report is not None
    assert report.trusted
    assert report.signature_valid
    assert report.generator.startswith("wavespeed/omnihuman-1.5")
    assert (report.actions[0].action, report.actions[0].digital_source_type) == (
        "c2pa.created",
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    )
    result = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/result.json")["Body"].read())
    assert result["c2pa"] == report.label == persisted.c2pa
    assert "c2pa_error" not in result
    assert persisted.crc32 == crc32_of(stored.read_bytes()) == stored_crc32(s3, OUTPUT_BUCKET, VIDEO_KEY)
    assert s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="staging/").get("KeyCount", 0) == 0


def test_a_manifest_that_fails_to_sign_fails_the_job_when_the_label_is_required(
    server: MediaServer, s3: Any, http: httpx.Client
) -> None:
    chain, other = make_test_chain(), make_test_chain()
    mismatched = InProcessSigner(s3, "kling/avatar", SigningKey(chain.certificate_chain_pem, other.private_key_pem))
    server.replies["/v.mp4"] = Reply(body=variant("moov_first"))
    with pytest.raises(ResultUnavailable, match="content credentials could not be signed"):
        persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http, finishing=Finishing(LABEL, mismatched))
    assert s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("KeyCount", 0) == 0


def test_without_the_label_a_failed_signature_is_recorded_and_the_job_succeeds(
    server: MediaServer, s3: Any, http: httpx.Client
) -> None:
    chain, other = make_test_chain(), make_test_chain()
    mismatched = InProcessSigner(s3, "kling/avatar", SigningKey(chain.certificate_chain_pem, other.private_key_pem))
    source = variant("moov_first")
    server.replies["/v.mp4"] = Reply(body=source)
    persisted = persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http, finishing=Finishing(None, mismatched))
    assert s3.get_object(Bucket=OUTPUT_BUCKET, Key=VIDEO_KEY)["Body"].read() == source
    result = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/result.json")["Body"].read())
    assert (result["c2pa"], result["aigc_label"]) == (None, None)
    assert "signing" in result["c2pa_error"]
    assert persisted.c2pa_failure == result["c2pa_error"]


class SignerThatWritesNothing:
    """Answers that it signed, but no signed file is there (SignVideo's upload lost, or the file removed since)."""

    def sign(self, job_id: str, bucket: str, source_key: str, destination_key: str) -> SignOutcome:
        return SignOutcome("urn:c2pa:nothing-written", None)


def test_a_signer_that_says_it_signed_but_stored_nothing_is_retried_and_stores_nothing(
    server: MediaServer, s3: Any, http: httpx.Client
) -> None:
    server.replies["/v.mp4"] = Reply(body=variant("moov_first"))
    with pytest.raises(ProviderUnavailable, match=r"reading s3://.*/signed\.mp4 failed: it does not exist"):
        persist(FakeAdapter([f"{server.url}/v.mp4"]), s3, http, finishing=Finishing(LABEL, SignerThatWritesNothing()))
    assert s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="campaign-7/").get("KeyCount", 0) == 0
    # The intermediates are gone; the provider's file stays for the retry to overwrite (or the lifecycle rule).
    staged = s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="staging/").get("Contents", [])
    assert [item["Key"].rpartition("/")[2] for item in staged] == ["provider.mp4"]
