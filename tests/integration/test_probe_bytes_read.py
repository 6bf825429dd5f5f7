"""Validating large inputs reads their headers through bounded ranged GETs, never the objects (moto).

Counted two ways: ``MediaProbe.bytes_read`` (the reader's own count) and, independently, a spy around the
boto3 client's ``get_object`` that sums the bytes of every ranged response body. Run with ``-s`` to see
the figures.
"""

from __future__ import annotations

import io
import re
import wave
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, cast

import av
import boto3
import numpy as np
import pytest
from avatar_pipeline.models import Job, JobRequest, MediaSource, S3Location
from avatar_pipeline.s3reader import BLOCK_BYTES
from avatar_pipeline.validation import validate_media
from botocore.response import StreamingBody
from PIL import Image

pytestmark = pytest.mark.integration

BUCKET = "avatar-input"
MIB = 1024 * 1024
BUDGET = 1 * MIB
RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


class GetObjectSpy:
    """Wraps ``s3.get_object``: records each call's range and the byte count of the body it returned."""

    def __init__(self, s3: Any) -> None:
        self.calls: dict[str, list[tuple[str | None, int]]] = defaultdict(list)
        self._original = s3.get_object
        s3.get_object = self

    def __call__(self, **params: Any) -> Any:
        response = self._original(**params)
        body = response["Body"].read()
        self.calls[params["Key"]].append((params.get("Range"), len(body)))
        response["Body"] = StreamingBody(io.BytesIO(body), len(body))
        return response

    def bytes_for(self, key: str) -> int:
        return sum(size for _, size in self.calls[key])

    def assert_bounded_ranges(self, key: str) -> None:
        for requested, size in self.calls[key]:
            assert requested is not None, f"an unbounded GET of {key}"
            match = RANGE.match(requested)
            assert match is not None, requested
            start, end = int(match.group(1)), int(match.group(2))
            assert end - start + 1 <= BLOCK_BYTES
            assert size == end - start + 1


@pytest.fixture
def s3(mocked_aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def make_job(image_key: str, audio_key: str) -> Job:
    image = MediaSource(s3=S3Location(bucket=BUCKET, key=image_key))
    audio = MediaSource(s3=S3Location(bucket=BUCKET, key=audio_key))
    return Job(
        job_id="big-1",
        provider="wavespeed/omnihuman-1.5",
        image=image,
        audio=audio,
        request=JobRequest(image=image.display, audio=audio.display),
        trigger="event",
        requested_at=datetime(2025, 3, 1, tzinfo=UTC),
    )


def big_png(side: int = 4000) -> bytes:
    """A valid ~48 MB PNG: stored (uncompressed) deflate blocks, so it is as large as its pixels."""
    buffer = io.BytesIO()
    Image.frombuffer("RGB", (side, side), bytes(side * side * 3), "raw", "RGB", 0, 1).save(
        buffer, format="PNG", compress_level=0
    )
    return buffer.getvalue()


def silent_wav(seconds: float, rate: int = 48000, channels: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(round(seconds * rate) * 2 * channels))
    return buffer.getvalue()


def encoded_audio(seconds: float, fmt: str, codec: str, rate: int = 16000, bit_rate: int = 32000) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = cast(av.AudioStream, container.add_stream(codec, rate=rate, layout="mono"))
        stream.bit_rate = bit_rate
        samples = np.random.default_rng(7).normal(0, 0.05, (1, round(seconds * rate))).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def report(what: str, size: int, probed: int | None, spied: int, requests: int) -> None:
    print(
        f"\n{what}: object {size / 1e6:.1f} MB; MediaProbe.bytes_read {probed} B; "
        f"get_object bodies {spied} B in {requests} ranged GET(s)"
    )


def test_50_mb_image_and_300_s_wav_are_validated_reading_at_most_1_mib(s3: Any) -> None:
    png, wav = big_png(), silent_wav(300.0)
    assert len(png) > 45_000_000
    assert len(wav) > 55_000_000
    s3.put_object(Bucket=BUCKET, Key="big/portrait.png", Body=png)
    s3.put_object(Bucket=BUCKET, Key="big/voice.wav", Body=wav)
    spy = GetObjectSpy(s3)

    media = validate_media(make_job("big/portrait.png", "big/voice.wav"), s3, input_bucket=BUCKET)

    assert (media.image.format, media.image.width, media.image.height) == ("png", 4000, 4000)
    assert media.image.size_bytes == len(png)
    assert media.audio is not None
    assert (media.audio.format, media.audio.duration_seconds, media.audio.size_bytes) == ("wav", 300.0, len(wav))
    assert (media.audio.sample_rate, media.audio.channels) == (48000, 2)
    image_spied, audio_spied = spy.bytes_for("big/portrait.png"), spy.bytes_for("big/voice.wav")
    report("image 50 MB PNG", len(png), media.image.bytes_read, image_spied, len(spy.calls["big/portrait.png"]))
    report("audio 300 s WAV", len(wav), media.audio.bytes_read, audio_spied, len(spy.calls["big/voice.wav"]))
    assert media.image.bytes_read == image_spied <= BUDGET
    assert media.audio.bytes_read == audio_spied <= BUDGET
    spy.assert_bounded_ranges("big/portrait.png")
    spy.assert_bounded_ranges("big/voice.wav")


def test_300_s_mp3_and_m4a_with_moov_at_the_end_read_at_most_1_mib(s3: Any) -> None:
    mp3 = encoded_audio(300.0, "mp3", "libmp3lame")
    m4a = encoded_audio(300.0, "ipod", "aac")
    assert m4a.index(b"moov") > m4a.index(b"mdat"), "PyAV writes moov after the samples unless faststart"
    png = big_png(512)
    s3.put_object(Bucket=BUCKET, Key="a/portrait.png", Body=png)
    s3.put_object(Bucket=BUCKET, Key="a/voice.mp3", Body=mp3)
    s3.put_object(Bucket=BUCKET, Key="a/voice.m4a", Body=m4a)
    spy = GetObjectSpy(s3)

    for key, data, fmt in (("a/voice.mp3", mp3, "mp3"), ("a/voice.m4a", m4a, "m4a")):
        media = validate_media(make_job("a/portrait.png", key), s3, input_bucket=BUCKET)
        assert media.audio is not None
        assert media.audio.format == fmt
        assert media.audio.duration_seconds == pytest.approx(300.0, abs=0.5)
        assert not media.audio.duration_estimated
        spied = spy.bytes_for(key)
        report(f"audio 300 s {fmt.upper()}", len(data), media.audio.bytes_read, spied, len(spy.calls[key]))
        assert media.audio.bytes_read == spied <= BUDGET
        spy.assert_bounded_ranges(key)


def test_jpeg_with_megabytes_of_metadata_before_its_frame_header_reads_at_most_1_mib(s3: Any) -> None:
    small = io.BytesIO()
    Image.new("RGB", (512, 512), (120, 90, 80)).save(small, format="JPEG")
    comment = b"\xff\xfe" + (0xFFFF).to_bytes(2, "big") + bytes(0xFFFD)  # the largest COM segment
    jpeg = small.getvalue()[:2] + comment * 80 + small.getvalue()[2:]  # ~5 MB of comments, then the frame
    s3.put_object(Bucket=BUCKET, Key="a/portrait.jpg", Body=jpeg)
    s3.put_object(Bucket=BUCKET, Key="a/voice.wav", Body=silent_wav(2.0))
    spy = GetObjectSpy(s3)
    media = validate_media(make_job("a/portrait.jpg", "a/voice.wav"), s3, input_bucket=BUCKET)
    spied, requests = spy.bytes_for("a/portrait.jpg"), len(spy.calls["a/portrait.jpg"])
    report("image 5 MB JPEG, metadata first", len(jpeg), media.image.bytes_read, spied, requests)
    assert (media.image.width, media.image.height) == (512, 512)
    assert spied <= BUDGET
