"""What validating large inputs reads from S3 (moto): audio by its headers and sampled frames, never the whole
object; an image once in full for its decode pass, in 1 MiB ranged GETs, never thousands of 8 KiB ones; metadata
before a JPEG's frame in a few GETs that read ahead.

Counted two ways: ``MediaProbe.bytes_read`` (the reader's own count) and, independently, a spy around the
boto3 client's ``get_object`` that sums the bytes of every ranged response body. The decode pass's peak Python
memory (tracemalloc, moto's in-process S3 included) is measured for a large PNG and JPEG. Run with ``-s`` to see
the figures.
"""

from __future__ import annotations

import io
import math
import re
import tracemalloc
import wave
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

import av
import boto3
import numpy as np
import pytest
from avatar_pipeline.audioframes import WHOLE_READ_BYTES, WINDOWS
from avatar_pipeline.capabilities import WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.imagecheck import JPEG_COEFFICIENT_BUDGET_BYTES, SEQUENTIAL_READ_BYTES, check_image_data
from avatar_pipeline.jpegcheck import read_jpeg_frame
from avatar_pipeline.models import Job, JobRequest, MediaSource, S3Location
from avatar_pipeline.s3reader import BLOCK_BYTES, READ_AHEAD_CAP_BYTES, READ_AHEAD_FACTOR, RangedS3Reader
from avatar_pipeline.validation import validate_media
from botocore.response import StreamingBody
from PIL import Image

pytestmark = pytest.mark.integration

BUCKET = "avatar-input"
MIB = 1024 * 1024
BUDGET = 1 * MIB
# What the header checks read besides the decode pass: the first blocks, the tail, segment headers.
HEADER_BUDGET = 256 * 1024
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

    def assert_bounded_ranges(self, key: str, largest: int = BLOCK_BYTES) -> None:
        for requested, size in self.calls[key]:
            assert requested is not None, f"an unbounded GET of {key}"
            match = RANGE.match(requested)
            assert match is not None, requested
            start, end = int(match.group(1)), int(match.group(2))
            assert end - start + 1 <= largest
            assert size == end - start + 1


class SlicingS3:
    """An in-memory stand-in for S3 that answers a ranged GET with that slice only. moto materialises the whole
    object on every ranged GET, which would swamp a peak-memory figure; boto3 streams the body from the socket."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def get_object(self, **params: Any) -> dict[str, Any]:
        match = RANGE.match(params["Range"])
        assert match is not None
        start, end = int(match.group(1)), int(match.group(2))
        return {"Body": io.BytesIO(self.data[start : end + 1])}


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


def noise_jpeg(width: int, height: int, **save: object) -> bytes:
    """A photo-sized JPEG that does not compress away: grey noise."""
    buffer = io.BytesIO()
    Image.merge("RGB", [Image.effect_noise((width, height), 16)] * 3).save(buffer, format="JPEG", quality=85, **save)
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


def test_50_mb_png_is_decoded_in_1_mib_gets_and_a_300_s_wav_read_by_its_header(s3: Any) -> None:
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
    image_gets = len(spy.calls["big/portrait.png"])
    report("image 48 MB PNG", len(png), media.image.bytes_read, image_spied, image_gets)
    report("audio 300 s WAV", len(wav), media.audio.bytes_read, audio_spied, len(spy.calls["big/voice.wav"]))
    # The decode pass reads the image once; the header checks add a few blocks.
    assert media.image.bytes_read == image_spied
    assert len(png) <= image_spied <= len(png) + HEADER_BUDGET
    assert image_gets <= math.ceil(len(png) / SEQUENTIAL_READ_BYTES) + 4
    spy.assert_bounded_ranges("big/portrait.png", largest=SEQUENTIAL_READ_BYTES)
    assert media.audio.bytes_read == audio_spied <= BUDGET
    spy.assert_bounded_ranges("big/voice.wav")


def test_300_s_mp3_and_m4a_read_at_most_1_mib(s3: Any) -> None:
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


def test_adts_aac_is_read_whole_up_to_8_mib_and_sampled_past_it(s3: Any) -> None:
    counted = encoded_audio(300.0, "adts", "aac")
    sampled = encoded_audio(400.0, "adts", "aac", rate=48000, bit_rate=256000)
    assert len(counted) <= WHOLE_READ_BYTES < len(sampled)
    s3.put_object(Bucket=BUCKET, Key="a/portrait.png", Body=big_png(512))
    s3.put_object(Bucket=BUCKET, Key="a/counted.aac", Body=counted)
    s3.put_object(Bucket=BUCKET, Key="a/sampled.aac", Body=sampled)
    spy = GetObjectSpy(s3)

    for key, data, seconds, estimated in (
        ("a/counted.aac", counted, 300.0, False),
        ("a/sampled.aac", sampled, 400.0, True),
    ):
        media = validate_media(make_job("a/portrait.png", key), s3, input_bucket=BUCKET)
        assert media.audio is not None
        assert media.audio.duration_seconds == pytest.approx(seconds, rel=0.05 if estimated else 0.001)
        assert bool(media.audio.duration_estimated) is estimated
        spied, requests = spy.bytes_for(key), len(spy.calls[key])
        what = f"audio {seconds:.0f} s ADTS AAC, {'sampled' if estimated else 'counted'}"
        report(what, len(data), media.audio.bytes_read, spied, requests)
        assert media.audio.bytes_read == spied
        if estimated:  # the blocks mutagen reads (its second read ahead), then one block per window
            assert spied <= (WINDOWS + 8 + READ_AHEAD_FACTOR) * BLOCK_BYTES
            assert requests <= WINDOWS + 8
            # The last window runs to the end (two blocks); mutagen's second read reads ahead 8 times the first.
            spy.assert_bounded_ranges(key, largest=(2 + READ_AHEAD_FACTOR) * BLOCK_BYTES)
        else:  # the blocks mutagen reads, then the whole object in one ranged GET
            assert spied <= len(data) + HEADER_BUDGET
            assert requests <= 8


def test_jpeg_with_megabytes_of_metadata_before_its_frame_header_is_read_in_1_mib_gets(s3: Any) -> None:
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
    # The frame header is found walking over the comments, reading ahead (three GETs, the last megabytes, all
    # cached); Pillow then parses the segments and libjpeg reads the stream again from its start, past the 1 MiB
    # buffer: out of the cache, save what the walk skipped.
    assert spied <= len(jpeg) + HEADER_BUDGET
    assert requests <= 3 + 2 * math.ceil(len(jpeg) / SEQUENTIAL_READ_BYTES) + 4
    spy.assert_bounded_ranges("a/portrait.jpg", largest=READ_AHEAD_CAP_BYTES)


@pytest.mark.parametrize(
    ("what", "key", "build"),
    [
        ("48 MB PNG, 4000x4000", "big/portrait.png", big_png),
        ("48 MP baseline JPEG, 8000x6000", "big/portrait.jpg", lambda: noise_jpeg(8000, 6000)),
        ("24 MP progressive JPEG, 6000x4000", "big/progressive.jpg", lambda: noise_jpeg(6000, 4000, progressive=True)),
    ],
    ids=["png", "jpeg", "progressive-jpeg"],
)
def test_decode_pass_of_a_large_image_in_bounded_memory(what: str, key: str, build: Any) -> None:
    data = build()
    reader = RangedS3Reader(SlicingS3(data), S3Location(bucket=BUCKET, key=key), len(data))  # type: ignore[arg-type]
    stream = cast(BinaryIO, reader)
    found = "png" if key.endswith(".png") else "jpeg"
    frame = read_jpeg_frame(stream) if found == "jpeg" else None
    coefficient_bytes = frame.buffered_coefficient_bytes if frame else 0
    pixels = frame.width * frame.height if frame else 4000 * 4000
    fetched, requests = reader.bytes_fetched, reader.requests
    tracemalloc.start()
    try:
        check_image_data(
            key,
            found,
            stream,
            len(data),
            WAVESPEED_OMNIHUMAN_15,
            pixels=pixels,
            jpeg_coefficient_bytes=coefficient_bytes,
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    walked = coefficient_bytes > JPEG_COEFFICIENT_BUDGET_BYTES
    print(
        f"\ndecode pass, {what} ({len(data) / 1e6:.1f} MB{', structure walked' if walked else ''}): "
        f"{reader.bytes_fetched - fetched} B in {reader.requests - requests} ranged GET(s); "
        f"peak Python memory {peak / MIB:.1f} MiB"
    )
    assert walked is (key == "big/progressive.jpg")
    # Blocks the header reads fetched are taken from the cache: every byte is fetched once.
    assert reader.bytes_fetched == len(data)
    assert reader.requests - requests <= math.ceil(len(data) / SEQUENTIAL_READ_BYTES)
    # The 1 MiB buffer and a response body in flight, never the image (Pillow's own pixel buffer for a JPEG,
    # 1/64 of the full size, is outside what tracemalloc sees).
    assert peak < 4 * MIB, peak
