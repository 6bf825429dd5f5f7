"""``persist_result``: the provider's video, fetched from a local HTTP server, lands verified in (moto) S3."""

import gzip
import hashlib
import json
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest
from avatar_pipeline.capabilities import WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.errors import ProviderUnavailable, ResultUnavailable
from avatar_pipeline.fetch import FetchPolicy
from avatar_pipeline.models import Job, JobRequest, MediaProbe, MediaSource, ProviderTask, S3Location, ValidatedMedia
from avatar_pipeline.persistence import MAX_DOWNLOAD_ATTEMPTS, persist_result
from avatar_pipeline.providers.base import (
    InputsFactory,
    PresignedInputs,
    ProviderAdapter,
    ResultLocation,
    TaskCheck,
    TaskRef,
)
from avatar_pipeline.transfer import MIN_PART_BYTES

pytestmark = pytest.mark.integration

OUTPUT_BUCKET = "avatar-output"
TASK_ID = "pred-42"
REQUESTED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
SUBMITTED = REQUESTED + timedelta(seconds=3)
COMPLETED = SUBMITTED + timedelta(seconds=40)
NOW = COMPLETED + timedelta(seconds=5)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "video/mp4"
    send_bytes: int | None = None  # fewer than Content-Length: the connection is cut mid-body
    location: str | None = None
    encoding: str | None = None


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
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.location:
                    self.send_header("Location", reply.location)
                if reply.encoding:
                    self.send_header("Content-Encoding", reply.encoding)
                self.end_headers()
                self.wfile.write(reply.body[: reply.send_bytes])
                self.wfile.flush()
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
def reset(server: MediaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies.clear()
    server.requests.clear()
    monkeypatch.setenv("ALLOW_LOOPBACK_ENDPOINTS", "true")


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
        completed_at=COMPLETED,
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
    return persist_result(
        make_job(),
        make_task(),
        make_media(),
        adapter=adapter,
        s3=s3,
        http=http,
        output_bucket=OUTPUT_BUCKET,
        now=NOW,
        **kwargs,
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

    sha = hashlib.sha256(talking_mp4).hexdigest()
    video = s3.get_object(Bucket=OUTPUT_BUCKET, Key="campaign-7/job-1/video.mp4")
    assert video["Body"].read() == talking_mp4
    assert video["ContentType"] == "video/mp4"
    assert persisted.video_uri == f"s3://{OUTPUT_BUCKET}/campaign-7/job-1/video.mp4"
    assert persisted.result_uri == f"s3://{OUTPUT_BUCKET}/campaign-7/job-1/result.json"
    assert persisted.version_id == video["VersionId"]
    assert (persisted.size_bytes, persisted.sha256) == (len(talking_mp4), sha)
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
        "sha256": sha,
        "duration_seconds": persisted.duration_seconds,
    }
    assert result["timings"] == {
        "requested_at": REQUESTED.isoformat(),
        "submitted_at": SUBMITTED.isoformat(),
        "generation_completed_at": COMPLETED.isoformat(),
        "persisted_at": NOW.isoformat(),
        "generation_seconds": 40.0,
        "total_seconds": 48.0,
        "status_checks": 4,
    }
    assert result["estimated_cost_usd"] == round(0.15 * persisted.duration_seconds, 4)
    assert result["estimated_cost_usd"] == pytest.approx(0.30, abs=0.02)
    assert persisted.estimated_cost_usd == result["estimated_cost_usd"]


def test_large_video_streams_in_parts(server: MediaServer, s3: Any, http: httpx.Client, talking_mp4: bytes) -> None:
    padding = 11 * 1024 * 1024
    body = talking_mp4 + struct.pack(">I", 8 + padding) + b"free" + bytes(padding)
    server.replies["/big.mp4"] = Reply(body=body)
    persisted = persist(FakeAdapter([f"{server.url}/big.mp4"]), s3, http, part_bytes=MIN_PART_BYTES)
    assert persisted.sha256 == hashlib.sha256(body).hexdigest()
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
    assert persisted.sha256 == hashlib.sha256(talking_mp4).hexdigest()
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
    assert persisted.sha256 == hashlib.sha256(talking_mp4).hexdigest()
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


def test_a_result_host_that_does_not_resolve_is_retried_as_unavailable(s3: Any, http: httpx.Client) -> None:
    def failing(host: str, port: int) -> list[Any]:
        raise OSError("Temporary failure in name resolution")

    with pytest.raises(ProviderUnavailable, match="did not resolve"):
        persist(FakeAdapter(["https://cdn.example.test/v.mp4"]), s3, http, fetch_policy=FetchPolicy(resolver=failing))
    assert_nothing_stored(s3)
