"""Content sniffing and per-provider media limits, on real generated media."""

import dataclasses
import io

import pytest
from avatar_local.samples import portrait_jpeg, portrait_png, speech_audio
from avatar_pipeline.capabilities import KLING_AVATAR, WAVESPEED_HUNYUAN_AVATAR, WAVESPEED_OMNIHUMAN_15
from avatar_pipeline.errors import InvalidMedia
from avatar_pipeline.media import (
    ESTIMATE_TOLERANCE,
    SIGNATURE_BYTES,
    check_audio,
    check_audio_duration,
    check_image,
    sniff_audio,
    sniff_image,
)
from PIL import Image

CAPS = WAVESPEED_OMNIHUMAN_15
PNG = portrait_png(128)
JPEG = portrait_jpeg(128)
WAV = speech_audio(1.5)
MP3 = speech_audio(1.0, fmt="mp3")
M4A = speech_audio(1.0, fmt="m4a")
JUNK = b"<!DOCTYPE html><html><body>Access denied</body></html>"


def _webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buffer, format="WEBP")
    return buffer.getvalue()


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, format="GIF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [(PNG, "png"), (JPEG, "jpeg"), (_webp(), "webp"), (_gif(), "gif"), (JUNK, None), (b"", None), (WAV, None)],
)
def test_sniff_image(data: bytes, expected: str | None) -> None:
    assert sniff_image(data[:SIGNATURE_BYTES]) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (WAV, "wav"),
        (MP3, "mp3"),
        (M4A, "m4a"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 60, "mp3"),  # a bare MPEG-1 layer III frame header, no ID3
        (b"\xff\xf1\x50\x80" + b"\x00" * 60, "aac"),  # an ADTS header
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (JUNK, None),
        (PNG, None),
        (b"", None),
        (b"\xff", None),
    ],
)
def test_sniff_audio(data: bytes, expected: str | None) -> None:
    assert sniff_audio(data[:SIGNATURE_BYTES]) == expected


def test_check_image_accepts_png_and_jpeg() -> None:
    assert check_image("s3://in/a.png", PNG[:SIGNATURE_BYTES], len(PNG), CAPS) == "png"
    assert check_image("s3://in/a.jpg", JPEG[:SIGNATURE_BYTES], len(JPEG), CAPS) == "jpeg"


def test_check_audio_accepts_wav_mp3_m4a() -> None:
    for data, fmt in ((WAV, "wav"), (MP3, "mp3"), (M4A, "m4a")):
        assert check_audio(f"s3://in/a.{fmt}", data[:SIGNATURE_BYTES], len(data), CAPS) == fmt


def test_unrecognised_image_names_file_content_and_accepted_formats() -> None:
    with pytest.raises(InvalidMedia) as caught:
        check_image("s3://in/alice.png", JUNK[:SIGNATURE_BYTES], len(JUNK), CAPS)
    message = caught.value.cause
    assert "image s3://in/alice.png is not a recognised image" in message
    assert JUNK[:8].hex() in message
    assert "wavespeed/omnihuman-1.5 accepts jpeg, png, webp" in message


def test_image_of_an_unaccepted_format_says_what_it_is() -> None:
    gif = _gif()
    with pytest.raises(InvalidMedia) as caught:
        check_image("s3://in/alice.gif", gif[:SIGNATURE_BYTES], len(gif), CAPS)
    assert caught.value.cause == "image s3://in/alice.gif is gif; wavespeed/omnihuman-1.5 accepts jpeg, png, webp"


def test_audio_given_as_image_is_refused_saying_what_it_is() -> None:
    with pytest.raises(InvalidMedia) as caught:
        check_image("s3://in/alice.png", WAV[:SIGNATURE_BYTES], len(WAV), CAPS)
    assert caught.value.cause == (
        "image s3://in/alice.png is wav audio, not an image; wavespeed/omnihuman-1.5 accepts jpeg, png, webp"
    )


def test_image_given_as_audio_is_refused_saying_what_it_is() -> None:
    with pytest.raises(InvalidMedia) as caught:
        check_audio("s3://in/voice.mp3", PNG[:SIGNATURE_BYTES], len(PNG), CAPS)
    assert caught.value.cause == (
        "audio s3://in/voice.mp3 is a png image, not audio; wavespeed/omnihuman-1.5 accepts aac, m4a, mp3, wav"
    )


def test_unrecognised_audio_names_file_content_and_accepted_formats() -> None:
    text = b"<!doctype html><html><body>not found</body></html>"
    with pytest.raises(InvalidMedia) as caught:
        check_audio("s3://in/voice.mp3", text[:SIGNATURE_BYTES], len(text), CAPS)
    message = caught.value.cause
    assert "audio s3://in/voice.mp3 is not a recognised audio file" in message
    assert text[:8].hex() in message
    assert "wavespeed/omnihuman-1.5 accepts aac, m4a, mp3, wav" in message


def test_audio_of_an_unaccepted_format_says_what_it_is() -> None:
    with pytest.raises(InvalidMedia) as caught:
        check_audio("s3://in/voice.ogg", b"OggS\x00\x02" + b"\x00" * 20, 1000, CAPS)
    assert caught.value.cause == "audio s3://in/voice.ogg is ogg; wavespeed/omnihuman-1.5 accepts aac, m4a, mp3, wav"


def test_zero_byte_files_are_empty() -> None:
    with pytest.raises(InvalidMedia, match=r"^image s3://in/a\.png is empty \(0 bytes\)$"):
        check_image("s3://in/a.png", b"", 0, CAPS)
    with pytest.raises(InvalidMedia, match=r"^audio s3://in/a\.wav is empty \(0 bytes\)$"):
        check_audio("s3://in/a.wav", b"", 0, CAPS)


def test_oversize_files_are_refused_with_sizes() -> None:
    small = dataclasses.replace(CAPS, max_image_bytes=1024 * 1024, max_audio_bytes=2 * 1024 * 1024)
    assert check_image("s3://in/a.png", PNG[:SIGNATURE_BYTES], 1024 * 1024, small) == "png"
    with pytest.raises(InvalidMedia) as caught:
        check_image("s3://in/a.png", PNG[:SIGNATURE_BYTES], 3 * 1024 * 1024, small)
    assert caught.value.cause == "image s3://in/a.png is 3.0 MiB; wavespeed/omnihuman-1.5 accepts at most 1.0 MiB"
    with pytest.raises(InvalidMedia) as caught:
        check_audio("s3://in/a.wav", WAV[:SIGNATURE_BYTES], 2 * 1024 * 1024 + 1, small)
    assert caught.value.cause == "audio s3://in/a.wav is 2.0 MiB; wavespeed/omnihuman-1.5 accepts at most 2.0 MiB"


def test_real_limit_is_fifty_mib() -> None:
    with pytest.raises(InvalidMedia, match=r"at most 50\.0 MiB"):
        check_image("s3://in/a.png", PNG[:SIGNATURE_BYTES], 50 * 1024 * 1024 + 1, CAPS)
    assert check_image("s3://in/a.png", PNG[:SIGNATURE_BYTES], 50 * 1024 * 1024, CAPS) == "png"


def test_an_exact_duration_is_held_to_the_limits_exactly() -> None:
    check_audio_duration("s3://in/a.wav", 119.99, WAVESPEED_HUNYUAN_AVATAR)
    with pytest.raises(
        InvalidMedia, match=r"^audio s3://in/a\.wav is 120\.0 s; wavespeed/hunyuan-avatar accepts under"
    ):
        check_audio_duration("s3://in/a.wav", 120.0, WAVESPEED_HUNYUAN_AVATAR)
    with pytest.raises(InvalidMedia, match=r"is 1\.9 s; kling/avatar needs at least 2 s$"):
        check_audio_duration("s3://in/a.wav", 1.95, KLING_AVATAR)


def test_an_estimated_duration_is_refused_only_past_the_tolerance() -> None:
    assert ESTIMATE_TOLERANCE == 0.10
    check_audio_duration("s3://in/a.aac", 131.9, WAVESPEED_HUNYUAN_AVATAR, estimated=True)
    with pytest.raises(InvalidMedia) as caught:
        check_audio_duration("s3://in/a.aac", 132.0, WAVESPEED_HUNYUAN_AVATAR, estimated=True)
    assert caught.value.cause == (
        "audio s3://in/a.aac is about 132.0 s (estimated from its frames); wavespeed/hunyuan-avatar accepts under 120 s"
    )
    check_audio_duration("s3://in/a.aac", 1.8, KLING_AVATAR, estimated=True)
    with pytest.raises(InvalidMedia) as caught:
        check_audio_duration("s3://in/a.aac", 1.79, KLING_AVATAR, estimated=True)
    assert caught.value.cause == (
        "audio s3://in/a.aac is about 1.8 s (estimated from its frames); kling/avatar needs at least 2 s"
    )
