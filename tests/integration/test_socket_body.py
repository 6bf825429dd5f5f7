"""``socket_body``: an uncoded body of declared length received from the socket straight into the upload's parts,
against a real HTTP server on 127.0.0.1 and a moto bucket. The TLS case is in ``test_fetch.py``."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest
from avatar_pipeline import download
from avatar_pipeline.download import Unreachable, stream_to_s3
from avatar_pipeline.fetch import FetchPolicy
from avatar_pipeline.models import S3Location
from avatar_pipeline.socket_body import SocketBody, socket_body
from avatar_pipeline.transfer import BadBody, Mp4BodyCheck, OutOfTime

pytestmark = pytest.mark.integration

BUCKET = "avatar-output"
DESTINATION = S3Location(bucket=BUCKET, key="campaign-7/job-1/video.mp4")
PART = 5 * 1024 * 1024


@dataclass
class Reply:
    body: bytes
    sent_first: int | None = None  # bytes sent before ``pause``; None sends the whole body at once
    pause: float = 0.0
    cut: bool = False  # close the connection after ``sent_first`` bytes instead of sending the rest
    chunked: bool = False


class Server:
    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                reply = server.replies[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Connection", "close")
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(reply.body), reply.body))
                    return
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                first = len(reply.body) if reply.sent_first is None else reply.sent_first
                self.wfile.write(reply.body[:first])
                self.wfile.flush()
                if reply.cut:
                    return
                time.sleep(reply.pause)
                self.wfile.write(reply.body[first:])

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.http.shutdown()


@pytest.fixture
def s3(mocked_aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each download was received from its socket."""
    taken: list[bool] = []

    def recording(response: httpx.Response, length: int) -> SocketBody | None:
        body = socket_body(response, length)
        taken.append(body is not None)
        return body

    monkeypatch.setattr(download, "socket_body", recording)
    return taken


def padded(mp4: bytes, total: int) -> bytes:
    padding = total - len(mp4) - 8
    return mp4 + struct.pack(">I", 8 + padding) + b"free" + bytes(range(256)) * (padding // 256) + bytes(padding % 256)


def copy(url: str, s3: Any, *, read_timeout_seconds: float = 5.0, deadline: float | None = None) -> Any:
    with httpx.Client() as client:
        return stream_to_s3(
            url,
            client=client,
            policy=FetchPolicy(allow_loopback=True),
            read_timeout_seconds=read_timeout_seconds,
            s3=s3,
            destination=DESTINATION,
            check=Mp4BodyCheck(),
            what="the video",
            content_type="video/mp4",
            part_bytes=PART,
            deadline=deadline,
        )


def assert_nothing_stored(s3: Any) -> None:
    assert s3.list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_body_of_several_parts_is_stored_intact_from_the_socket(
    server: Server, s3: Any, received: list[bool], talking_mp4: bytes
) -> None:
    body = padded(talking_mp4, 2 * PART + 123_457)
    server.replies["/video.mp4"] = Reply(body)
    part_sizes: list[int] = []

    class PartSizes:
        def __getattr__(self, name: str) -> Any:
            return getattr(s3, name)

        def upload_part(self, **kwargs: Any) -> Any:
            part_sizes.append(len(kwargs["Body"]))
            return s3.upload_part(**kwargs)

    outcome = copy(f"{server.url}/video.mp4", PartSizes())
    assert received == [True]
    assert outcome.size_bytes == len(body)
    assert s3.get_object(Bucket=BUCKET, Key=DESTINATION.key)["Body"].read() == body
    assert part_sizes == [PART, PART, 123_457]


def test_a_stall_mid_body_times_out_as_it_does_through_httpx(
    server: Server, s3: Any, received: list[bool], talking_mp4: bytes
) -> None:
    body = padded(talking_mp4, PART + 1000)
    server.replies["/stall.mp4"] = Reply(body, sent_first=len(body) // 2, pause=3.0)
    with pytest.raises(Unreachable) as caught:
        copy(f"{server.url}/stall.mp4", s3, read_timeout_seconds=0.5)
    assert received == [True]
    assert caught.value.timed_out
    assert str(caught.value) == "timed out (ReadTimeout)"
    assert_nothing_stored(s3)


def test_a_body_cut_off_mid_way_names_what_arrived(
    server: Server, s3: Any, received: list[bool], talking_mp4: bytes
) -> None:
    body = padded(talking_mp4, PART + 1000)
    server.replies["/cut.mp4"] = Reply(body, sent_first=PART // 2, cut=True)
    with pytest.raises(BadBody, match=rf"^the download was cut off: {PART // 2} of {len(body)} bytes arrived$"):
        copy(f"{server.url}/cut.mp4", s3)
    assert received == [True]
    assert_nothing_stored(s3)


def test_the_deadline_stops_a_body_still_arriving(
    server: Server, s3: Any, received: list[bool], talking_mp4: bytes
) -> None:
    body = padded(talking_mp4, PART + 1000)
    server.replies["/slow.mp4"] = Reply(body, sent_first=len(body) // 2, pause=1.5)
    with pytest.raises(OutOfTime, match="still arriving when time ran out"):
        copy(f"{server.url}/slow.mp4", s3, deadline=time.monotonic() + 0.5)
    assert received == [True]
    assert_nothing_stored(s3)


def test_a_small_body_is_all_in_the_first_chunk(server: Server) -> None:
    server.replies["/small"] = Reply(b"0123456789")
    with httpx.Client() as client, client.stream("GET", f"{server.url}/small") as response:
        body = socket_body(response, 10)
        assert body is not None
        buffer = bytearray(64)
        assert body.readinto(memoryview(buffer)) == 10
        assert bytes(buffer[:10]) == b"0123456789"


def test_a_chunked_body_is_left_to_httpx(server: Server) -> None:
    server.replies["/chunked"] = Reply(b"0123456789", chunked=True)
    with httpx.Client() as client, client.stream("GET", f"{server.url}/chunked") as response:
        assert socket_body(response, 10) is None
        assert response.read() == b"0123456789"


def test_a_response_without_a_socket_is_left_to_httpx() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"0123456789"))
    with httpx.Client(transport=transport) as client, client.stream("GET", "https://media.example.test/v") as response:
        assert socket_body(response, 10) is None
