"""``probe_image`` / ``probe_audio`` on generated media: real type, size and duration from headers.

Every refusal names the file, what was found and what the provider accepts. Images pass their header checks
before their data is read and decoded (``test_image_data.py``): a decompression bomb is refused with nothing
decoded (Pillow's pixel loading and the decode pass both fail while those probes run).
"""

from __future__ import annotations

import io
import struct
import wave
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast
from unittest import mock

import av
import numpy as np
import pytest
from avatar_local.samples import portrait_jpeg, portrait_png, speech_audio
from avatar_pipeline import probe as probe_module
from avatar_pipeline.capabilities import (
    KLING_AVATAR,
    VOLCENGINE_OMNIHUMAN_15,
    WAVESPEED_HUNYUAN_AVATAR,
    WAVESPEED_OMNIHUMAN_15,
    ProviderCapabilities,
)
from avatar_pipeline.errors import InvalidMedia
from avatar_pipeline.probe import (
    MAX_IMAGE_PIXELS,
    MIN_IMAGE_SIDE_PX,
    TAIL_BYTES,
    AudioInfo,
    ImageInfo,
    check_dimensions,
    probe_audio,
    probe_image,
)
from PIL import Image, ImageFile

WAVESPEED = WAVESPEED_OMNIHUMAN_15
IMAGE_FORMATS = "jpeg, png, webp"
AUDIO_FORMATS = "aac, m4a, mp3, wav"


class CountingStream(io.BytesIO):
    """A seekable in-memory object that counts what is read from it (as ``RangedS3Reader`` would fetch)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = super().readinto(buffer)
        self.bytes_read += count
        return count


@contextmanager
def nothing_decoded() -> Iterator[None]:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the probe decoded pixel data")

    with (
        mock.patch.object(ImageFile.ImageFile, "load", refuse),
        mock.patch.object(Image.Image, "load", refuse),
        mock.patch.object(probe_module, "check_image_data", refuse),
    ):
        yield


def image(data: bytes, name: str = "s3://b/alice.png", caps: ProviderCapabilities = WAVESPEED) -> ImageInfo:
    return probe_image(name, CountingStream(data), len(data), caps)


def audio(data: bytes, name: str = "s3://b/alice.wav", caps: ProviderCapabilities = WAVESPEED) -> AudioInfo:
    return probe_audio(name, CountingStream(data), len(data), caps)


def image_refusal(data: bytes, name: str = "s3://b/alice.png", caps: ProviderCapabilities = WAVESPEED) -> str:
    with pytest.raises(InvalidMedia) as caught:
        image(data, name, caps)
    assert caught.value.cause.startswith(f"image {name} "), caught.value.cause
    return caught.value.cause


def audio_refusal(data: bytes, name: str = "s3://b/alice.wav", caps: ProviderCapabilities = WAVESPEED) -> str:
    with pytest.raises(InvalidMedia) as caught:
        audio(data, name, caps)
    assert caught.value.cause.startswith(f"audio {name} "), caught.value.cause
    return caught.value.cause


# --- generated media ------------------------------------------------------------------------------


def portrait(width: int = 200, height: int = 160) -> Image.Image:
    with Image.open(io.BytesIO(portrait_png(max(width, height)))) as drawn:
        return drawn.convert("RGB").resize((width, height))


def encoded(picture: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def plain_png(width: int, height: int) -> bytes:
    return encoded(Image.new("RGB", (width, height), (200, 150, 120)), format="PNG")


def animated(fmt: str) -> bytes:
    first = portrait()
    return encoded(first, format=fmt, save_all=True, append_images=[first.rotate(8)], duration=100, loop=0)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny real PNG whose IHDR is patched to declare ``width`` x ``height`` (CRC recomputed)."""
    png = plain_png(64, 64)
    assert png[12:16] == b"IHDR"
    fields = struct.pack(">II", width, height) + png[24:29]
    return png[:16] + fields + struct.pack(">I", zlib.crc32(b"IHDR" + fields)) + png[33:]


def jpeg_declaring(width: int, height: int) -> bytes:
    """A tiny real JPEG whose start-of-frame is patched to declare ``width`` x ``height``."""
    jpeg = portrait_jpeg(64)
    offset = 2
    while jpeg[offset + 1] not in (0xC0, 0xC1, 0xC2):
        offset += 2 + int.from_bytes(jpeg[offset + 2 : offset + 4], "big")
    return jpeg[: offset + 5] + struct.pack(">HH", height, width) + jpeg[offset + 9 :]


def webp_declaring(width: int, height: int) -> bytes:
    """An extended-format (VP8X) WebP header declaring a ``width`` x ``height`` canvas, and nothing else."""
    vp8x = b"VP8X" + (10).to_bytes(4, "little") + b"\x00\x00\x00\x00"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + (4 + len(vp8x)).to_bytes(4, "little") + b"WEBP" + vp8x


def silent_wav(seconds: float, rate: int, channels: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(round(seconds * rate) * 2 * channels))
    return buffer.getvalue()


def encode_audio(
    seconds: float, fmt: str, codec: str, *, rate: int = 16000, bit_rate: int | None = None, tags: bool = True
) -> bytes:
    """Noise encoded with PyAV; ``tags=False`` leaves out the MP3 muxer's ID3v2 tag and Xing/Info frame."""
    buffer = io.BytesIO()
    options = {} if tags else {"write_xing": "0", "id3v2_version": "0"}
    with av.open(buffer, "w", format=fmt, options=options) as container:
        stream = cast(av.AudioStream, container.add_stream(codec, rate=rate, layout="mono"))
        if bit_rate:
            stream.bit_rate = bit_rate
        samples = np.random.default_rng(1).normal(0, 0.1, (1, round(seconds * rate))).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def top_level_boxes(mp4: bytes) -> list[str]:
    boxes, offset = [], 0
    while offset < len(mp4):
        boxes.append(mp4[offset + 4 : offset + 8].decode())
        offset += int.from_bytes(mp4[offset : offset + 4], "big")
    return boxes


# --- still images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("save", "found"),
    [
        ({"format": "PNG"}, "png"),
        ({"format": "JPEG", "quality": 85}, "jpeg"),
        ({"format": "JPEG", "quality": 85, "progressive": True}, "jpeg"),
        ({"format": "WEBP", "quality": 80}, "webp"),  # lossy: a VP8 chunk
        ({"format": "WEBP", "lossless": True}, "webp"),  # lossless: a VP8L chunk
        # Extended: a VP8X chunk (an EXIF of nothing but its "Exif\0\0" prefix would leave it out).
        ({"format": "WEBP", "quality": 80, "xmp": b"<x/>"}, "webp"),
    ],
    ids=["png", "jpeg", "progressive-jpeg", "webp-lossy", "webp-lossless", "webp-extended"],
)
def test_still_images_are_measured_from_their_headers_and_decoded(save: dict[str, object], found: str) -> None:
    data = encoded(portrait(200, 160), **save)
    stream = CountingStream(data)
    assert probe_image("s3://b/alice", stream, len(data), WAVESPEED) == ImageInfo(found, 200, 160)
    if save.get("xmp"):
        assert data[12:16] == b"VP8X"
    # Headers, the tail where the end marker sits, then one pass over the whole image to decode it.
    assert len(data) <= stream.bytes_read <= 2 * len(data) + TAIL_BYTES


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animated_images_are_refused(fmt: str) -> None:
    found = fmt.lower()
    message = image_refusal(animated(fmt), f"s3://b/wave.{found}")
    assert (
        message == f"image s3://b/wave.{found} is an animated {found}; wavespeed/omnihuman-1.5 takes a still portrait"
    )


def test_truncated_jpeg_is_refused() -> None:
    jpeg = portrait_jpeg(256)
    message = image_refusal(jpeg[: len(jpeg) * 2 // 3], "s3://b/alice.jpg")
    assert message == (
        "image s3://b/alice.jpg is a truncated JPEG (no end-of-image marker); "
        "wavespeed/omnihuman-1.5 needs the complete image"
    )


def test_truncated_png_is_refused() -> None:
    png = portrait_png(256)
    message = image_refusal(png[: len(png) - 100])
    assert message == (
        "image s3://b/alice.png is a truncated PNG (no IEND chunk at the end); "
        "wavespeed/omnihuman-1.5 needs the complete image"
    )


def test_png_cut_inside_its_header_is_refused() -> None:
    message = image_refusal(portrait_png(256)[:30])
    assert message.startswith("image s3://b/alice.png looks like png but has a corrupt or truncated header")
    assert message.endswith(f"; wavespeed/omnihuman-1.5 accepts {IMAGE_FORMATS} images it can read")


def test_truncated_webp_is_refused() -> None:
    webp = encoded(portrait(), format="WEBP", quality=80)
    message = image_refusal(webp[:-50], "s3://b/alice.webp")
    assert message == (
        f"image s3://b/alice.webp is a truncated WebP: {len(webp) - 50} of {len(webp)} bytes; "
        "wavespeed/omnihuman-1.5 needs the complete image"
    )


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "png"),
        (b"\xff\xd8\xff\xe0" + b"\x12\x34" * 50, "jpeg"),
    ],
    ids=["png", "jpeg"],
)
def test_corrupt_header_is_refused(data: bytes, found: str) -> None:
    message = image_refusal(data)
    assert message.startswith(f"image s3://b/alice.png looks like {found} but has a corrupt or truncated header")
    assert message.endswith(f"; wavespeed/omnihuman-1.5 accepts {IMAGE_FORMATS} images it can read")
    assert "object at 0x" not in message, "no Python object reprs in a user-facing cause"


def test_corrupt_webp_header_is_refused() -> None:
    data = b"RIFF" + (24).to_bytes(4, "little") + b"WEBPVP8Z" + bytes(20)
    message = image_refusal(data, "s3://b/alice.webp")
    assert message == (
        "image s3://b/alice.webp has a corrupt WebP header (chunk b'VP8Z'); "
        f"wavespeed/omnihuman-1.5 accepts {IMAGE_FORMATS} images it can read"
    )


def test_content_that_is_no_image_is_refused_showing_its_first_bytes() -> None:
    data = b"<!doctype html><title>404</title>"
    message = image_refusal(data)
    assert message == (
        f"image s3://b/alice.png is not a recognised image (content starts with {data[:8].hex()}); "
        f"wavespeed/omnihuman-1.5 accepts {IMAGE_FORMATS}"
    )


def test_audio_given_as_image_is_refused_naming_what_it_is() -> None:
    message = image_refusal(speech_audio(0.5))
    assert (
        message == f"image s3://b/alice.png is wav audio, not an image; wavespeed/omnihuman-1.5 accepts {IMAGE_FORMATS}"
    )


def test_image_format_the_provider_does_not_take_is_refused() -> None:
    message = image_refusal(encoded(portrait(400, 400), format="WEBP"), "s3://b/alice.webp", KLING_AVATAR)
    assert message == "image s3://b/alice.webp is webp; kling/avatar accepts jpeg, png"


def test_gif_is_refused() -> None:
    message = image_refusal(encoded(portrait(), format="GIF"), "s3://b/alice.gif")
    assert message == f"image s3://b/alice.gif is gif; wavespeed/omnihuman-1.5 accepts {IMAGE_FORMATS}"


def test_image_over_the_providers_byte_limit_is_refused_before_reading_it() -> None:
    png = plain_png(400, 400)
    stream = CountingStream(png)
    with pytest.raises(InvalidMedia) as caught:
        probe_image("s3://b/alice.png", stream, 11 * 1024 * 1024, KLING_AVATAR)
    assert caught.value.cause == "image s3://b/alice.png is 11.0 MiB; kling/avatar accepts at most 10.0 MiB"
    assert stream.bytes_read <= 64


def test_empty_image_is_refused() -> None:
    assert image_refusal(b"") == "image s3://b/alice.png is empty (0 bytes)"


# --- dimensions -----------------------------------------------------------------------------------


def test_one_pixel_image_is_refused_naming_its_size_and_the_minimum() -> None:
    message = image_refusal(plain_png(1, 1))
    assert message == (
        f"image s3://b/alice.png is 1x1 px; wavespeed/omnihuman-1.5 needs at least {MIN_IMAGE_SIDE_PX} px on each side"
    )


def test_kling_needs_300_px() -> None:
    message = image_refusal(plain_png(299, 400), caps=KLING_AVATAR)
    assert message == "image s3://b/alice.png is 299x400 px; kling/avatar needs at least 300 px on each side"
    assert image(plain_png(300, 400), caps=KLING_AVATAR) == ImageInfo("png", 300, 400)


@pytest.mark.parametrize(("width", "height", "ratio"), [(3000, 300, "10.00"), (300, 3000, "0.10")])
def test_ten_to_one_is_refused_for_kling(width: int, height: int, ratio: str) -> None:
    message = image_refusal(plain_png(width, height), caps=KLING_AVATAR)
    assert message == (
        f"image s3://b/alice.png has an aspect ratio of {ratio}:1 ({width}x{height}); "
        "kling/avatar accepts 1:2.5 to 2.5:1"
    )


@pytest.mark.parametrize(("width", "height"), [(3000, 300), (300, 3000)])
def test_ten_to_one_is_accepted_for_wavespeed(width: int, height: int) -> None:
    assert image(plain_png(width, height)) == ImageInfo("png", width, height)


@pytest.mark.parametrize(("width", "height"), [(750, 300), (300, 750)])
def test_kling_accepts_exactly_two_and_a_half_to_one(width: int, height: int) -> None:
    check_dimensions("s3://b/a.png", width, height, KLING_AVATAR)
    with pytest.raises(InvalidMedia, match="aspect ratio"):
        check_dimensions("s3://b/a.png", width + (width > height), height + (height > width), KLING_AVATAR)


def test_minimum_side_is_inclusive() -> None:
    check_dimensions("s3://b/a.png", MIN_IMAGE_SIDE_PX, MIN_IMAGE_SIDE_PX, WAVESPEED)
    with pytest.raises(InvalidMedia, match=f"is {MIN_IMAGE_SIDE_PX - 1}x{MIN_IMAGE_SIDE_PX} px"):
        check_dimensions("s3://b/a.png", MIN_IMAGE_SIDE_PX - 1, MIN_IMAGE_SIDE_PX, WAVESPEED)


def test_pixel_budget_is_inclusive() -> None:
    check_dimensions("s3://b/a.png", 8000, MAX_IMAGE_PIXELS // 8000, WAVESPEED)
    with pytest.raises(InvalidMedia, match="portraits over 64 MP are refused"):
        check_dimensions("s3://b/a.png", 8000, MAX_IMAGE_PIXELS // 8000 + 1, WAVESPEED)


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (png_declaring(40000, 40000), "s3://b/bomb.png", "declares 1600 MP"),
        (jpeg_declaring(40000, 40000), "s3://b/bomb.jpg", "declares 40000x40000 pixels (1600 MP)"),
        (png_declaring(10000, 10000), "s3://b/bomb.png", "declares 10000x10000 pixels (100 MP)"),
        (webp_declaring(20000, 20000), "s3://b/bomb.webp", "declares 20000x20000 pixels (400 MP)"),
    ],
    ids=["png-1600MP", "jpeg-1600MP", "png-100MP", "webp-400MP"],
)
def test_huge_declared_dimensions_are_refused_without_decoding(data: bytes, name: str, expected: str) -> None:
    stream = CountingStream(data)
    with pytest.raises(InvalidMedia) as caught, nothing_decoded():
        probe_image(name, stream, len(data), WAVESPEED)
    assert caught.value.cause == f"image {name} {expected}; portraits over 64 MP are refused"
    # A few header reads were all it took (and ``nothing_decoded`` proves no pixel was decoded).
    assert len(data) <= 4096
    assert stream.bytes_read <= 4096


# --- audio ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (48000, 2)])
def test_wav_reports_rate_channels_and_exact_duration(rate: int, channels: int) -> None:
    assert audio(silent_wav(3.0, rate, channels)) == AudioInfo(
        format="wav", duration_seconds=3.0, duration_estimated=False, sample_rate=rate, channels=channels
    )


def test_cbr_mp3_with_an_info_frame_has_an_exact_duration() -> None:
    mp3 = encode_audio(4.0, "mp3", "libmp3lame", bit_rate=64000)
    assert b"Info" in mp3[:2048], "LAME's CBR Info frame"
    info = audio(mp3, "s3://b/alice.mp3")
    assert (info.format, info.sample_rate, info.channels, info.duration_estimated) == ("mp3", 16000, 1, False)
    assert info.duration_seconds == pytest.approx(4.0, abs=0.15)


def test_cbr_mp3_without_an_info_frame_has_its_frames_counted() -> None:
    mp3 = encode_audio(4.0, "mp3", "libmp3lame", bit_rate=64000, tags=False)
    assert b"Info" not in mp3
    assert b"Xing" not in mp3
    info = audio(mp3, "s3://b/alice.mp3")
    # No header counts the frames, but the file is small enough to read whole and count them: exact.
    assert info.duration_estimated is False
    assert info.duration_seconds == pytest.approx(4.0, abs=0.15)


def test_vbr_mp3_without_a_xing_header_has_its_frames_counted() -> None:
    # 3 s at 32 kb/s then 3 s at 160 kb/s (the most MPEG-2 allows): frames of different sizes, no Xing/VBRI
    # header to count them. This was once size over the first frame's bitrate (18.6 s), flagged as an
    # estimate and never enforced; a file this small is now read whole and its frames counted.
    mp3 = encode_audio(3.0, "mp3", "libmp3lame", bit_rate=32000, tags=False)
    mp3 += encode_audio(3.0, "mp3", "libmp3lame", bit_rate=256000, tags=False)
    assert b"Xing" not in mp3
    assert b"Info" not in mp3
    assert b"VBRI" not in mp3
    info = audio(mp3, "s3://b/alice.mp3")
    assert info.format == "mp3"
    assert info.duration_estimated is False
    assert info.duration_seconds == pytest.approx(6.0, abs=0.2)


def test_m4a_with_moov_at_the_end_has_the_right_duration() -> None:
    m4a = encode_audio(3.0, "ipod", "aac")
    boxes = top_level_boxes(m4a)
    assert boxes.index("moov") > boxes.index("mdat"), boxes
    info = audio(m4a, "s3://b/alice.m4a")
    assert (info.format, info.sample_rate, info.channels, info.duration_estimated) == ("m4a", 16000, 1, False)
    assert info.duration_seconds == pytest.approx(3.0, abs=0.1)


def test_adts_aac_has_its_frames_counted() -> None:
    # ADTS has no header that counts its frames; a file of up to 8 MiB is read whole and they are counted.
    aac = encode_audio(3.0, "adts", "aac")
    info = audio(aac, "s3://b/alice.aac")
    assert (info.format, info.sample_rate, info.channels, info.duration_estimated) == ("aac", 16000, 1, False)
    assert info.duration_seconds == pytest.approx(3.0, abs=0.2)


def test_sample_speech_in_every_format_is_accepted() -> None:
    for fmt in ("wav", "mp3", "m4a"):
        info = audio(speech_audio(1.0, fmt=fmt), f"s3://b/alice.{fmt}")
        assert info.format == fmt
        assert info.duration_seconds == pytest.approx(1.0, abs=0.1)


def test_png_renamed_mp3_is_refused_naming_the_file_and_what_it_is() -> None:
    message = audio_refusal(portrait_png(64), "s3://b/alice.mp3")
    assert message == (
        f"audio s3://b/alice.mp3 is a png image, not audio; wavespeed/omnihuman-1.5 accepts {AUDIO_FORMATS}"
    )


def test_empty_audio_is_refused() -> None:
    assert audio_refusal(b"", "s3://b/alice.mp3") == "audio s3://b/alice.mp3 is empty (0 bytes)"


def test_audio_format_no_provider_takes_is_refused() -> None:
    message = audio_refusal(b"OggS\x00\x02" + bytes(100), "s3://b/alice.ogg")
    assert message == f"audio s3://b/alice.ogg is ogg; wavespeed/omnihuman-1.5 accepts {AUDIO_FORMATS}"


def test_unrecognised_audio_shows_its_first_bytes() -> None:
    data = b"just some text, not audio"
    message = audio_refusal(data, "s3://b/alice.mp3")
    assert message == (
        f"audio s3://b/alice.mp3 is not a recognised audio file (content starts with {data[:8].hex()}); "
        f"wavespeed/omnihuman-1.5 accepts {AUDIO_FORMATS}"
    )


@pytest.mark.parametrize(
    ("data", "found", "reason"),
    [
        (b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(300), "mp3", "can't sync to MPEG frame"),
        (b"RIFF\x24\x00\x00\x00WAVE" + bytes(40), "wav", "\"No 'fmt' chunk found\""),
    ],
    ids=["mp3-without-frames", "wav-without-fmt"],
)
def test_unreadable_audio_header_is_refused(data: bytes, found: str, reason: str) -> None:
    message = audio_refusal(data, f"s3://b/alice.{found}")
    assert message == (
        f"audio s3://b/alice.{found} looks like {found} but its header is unreadable ({reason}); "
        f"wavespeed/omnihuman-1.5 accepts {AUDIO_FORMATS} files it can read"
    )


def test_m4a_cut_before_its_moov_is_refused() -> None:
    m4a = encode_audio(3.0, "ipod", "aac")
    message = audio_refusal(m4a[: m4a.index(b"moov") - 4], "s3://b/alice.m4a")
    assert message.startswith("audio s3://b/alice.m4a looks like m4a but ")
    assert message.endswith(f"wavespeed/omnihuman-1.5 accepts {AUDIO_FORMATS} files it can read")


def test_audio_over_the_providers_limit_names_its_length_and_the_limit() -> None:
    message = audio_refusal(silent_wav(73.2, 8000, 1), "s3://b/alice.wav", VOLCENGINE_OMNIHUMAN_15)
    assert message == "audio s3://b/alice.wav is 73.2 s; volcengine/omnihuman-1.5 accepts under 60 s"


def test_audio_limit_is_exclusive() -> None:
    assert audio(silent_wav(119.9, 8000, 1), caps=WAVESPEED_HUNYUAN_AVATAR).duration_seconds == pytest.approx(119.9)
    message = audio_refusal(silent_wav(120.0, 8000, 1), caps=WAVESPEED_HUNYUAN_AVATAR)
    assert message == "audio s3://b/alice.wav is 120.0 s; wavespeed/hunyuan-avatar accepts under 120 s"


def test_audio_too_short_for_kling() -> None:
    message = audio_refusal(silent_wav(1.5, 8000, 1), caps=KLING_AVATAR)
    assert message == "audio s3://b/alice.wav is 1.5 s; kling/avatar needs at least 2 s"
    assert audio(silent_wav(2.0, 8000, 1), caps=KLING_AVATAR).duration_seconds == 2.0


def test_audio_over_klings_byte_limit_is_refused() -> None:
    wav = silent_wav(60.0, 48000, 1)  # 5.5 MiB
    message = audio_refusal(wav, caps=KLING_AVATAR)
    assert message == f"audio s3://b/alice.wav is {len(wav) / 2**20:.1f} MiB; kling/avatar accepts at most 5.0 MiB"


def test_wav_header_alone_is_enough_for_a_long_file() -> None:
    wav = silent_wav(300.0, 48000, 2)
    stream = CountingStream(wav)
    info = probe_audio("s3://b/long.wav", stream, len(wav), WAVESPEED)
    assert info.duration_seconds == 300.0
    assert stream.bytes_read < 64 * 1024, stream.bytes_read
