"""Whatever bytes arrive, ``probe_image`` / ``probe_audio`` answer with a result or ``InvalidMedia``, never another
exception, and never a cause carrying a Python object's repr.

Property-based (hypothesis): real signatures followed by anything, and real files with bytes overwritten or cut.
"""

from __future__ import annotations

import io
from unittest import mock

import av
import numpy as np
from avatar_local.samples import portrait_jpeg, portrait_png, speech_audio
from avatar_pipeline import imagecheck
from avatar_pipeline.capabilities import (
    KLING_AVATAR,
    WAVESPEED_HUNYUAN_AVATAR,
    WAVESPEED_OMNIHUMAN_15,
    ProviderCapabilities,
)
from avatar_pipeline.errors import InvalidMedia
from avatar_pipeline.probe import probe_audio, probe_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

PROPERTY_SETTINGS = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
CAPS = st.sampled_from([WAVESPEED_OMNIHUMAN_15, WAVESPEED_HUNYUAN_AVATAR, KLING_AVATAR])


def _webp(**save: object) -> bytes:
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(portrait_png(320))) as picture:
        picture.save(buffer, format="WEBP", **save)
    return buffer.getvalue()


def _adts(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        samples = np.random.default_rng(5).normal(0, 0.1, (1, round(seconds * 16000))).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = 16000
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


IMAGES = [portrait_png(320), portrait_jpeg(320), _webp(quality=80), _webp(lossless=True), _webp(xmp=b"<x/>")]
AUDIO = [speech_audio(2.5), speech_audio(2.5, fmt="mp3"), speech_audio(2.5, fmt="m4a"), _adts(2.5)]
IMAGE_SIGNATURES = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x10\x00\x00WEBPVP8 ", IMAGES[0][:33]]
AUDIO_SIGNATURES = [
    speech_audio(0.1)[:44],
    b"ID3\x04\x00\x00\x00\x00\x00\x00",
    b"\xff\xfb\x90\x64",
    b"\xff\xf1\x50\x80",
    b"\x00\x00\x00\x20ftypM4A ",
]


@st.composite
def damaged(draw: st.DrawFn, originals: list[bytes]) -> bytes:
    """A real file with a few runs of bytes overwritten, and perhaps cut short."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _damage in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        patch = draw(st.binary(min_size=1, max_size=16))
        data[at : at + len(patch)] = patch
    if draw(st.booleans()):
        del data[draw(st.integers(1, len(data))) :]
    return bytes(data)


def signed(signatures: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(lambda head, tail: head + tail, st.sampled_from(signatures), st.binary(max_size=600))


def image_refusal(data: bytes, caps: ProviderCapabilities) -> str | None:
    try:
        probe_image("s3://b/in", io.BytesIO(data), len(data), caps)
    except InvalidMedia as refused:
        return refused.cause
    return None


def audio_refusal(data: bytes, caps: ProviderCapabilities) -> str | None:
    try:
        probe_audio("s3://b/in", io.BytesIO(data), len(data), caps)
    except InvalidMedia as refused:
        return refused.cause
    return None


@PROPERTY_SETTINGS
@given(st.one_of(signed(IMAGE_SIGNATURES), damaged(IMAGES), st.binary(max_size=300)), CAPS)
def test_any_bytes_as_an_image_give_a_result_or_invalid_media(data: bytes, caps: ProviderCapabilities) -> None:
    cause = image_refusal(data, caps)
    if cause is not None:
        assert cause.startswith("image s3://b/in "), cause
        assert " at 0x" not in cause, cause


@PROPERTY_SETTINGS
@given(st.one_of(signed(AUDIO_SIGNATURES), damaged(AUDIO), st.binary(max_size=300)), CAPS)
def test_any_bytes_as_audio_give_a_result_or_invalid_media(data: bytes, caps: ProviderCapabilities) -> None:
    cause = audio_refusal(data, caps)
    if cause is not None:
        assert cause.startswith(("audio s3://b/in ", "audio s3://b/in's header ")), cause
        assert " at 0x" not in cause, cause


@PROPERTY_SETTINGS
@given(st.one_of(signed(IMAGE_SIGNATURES), damaged(IMAGES)), CAPS)
def test_any_bytes_walked_rather_than_decoded_give_a_result_or_invalid_media(
    data: bytes, caps: ProviderCapabilities
) -> None:
    # Every JPEG and WebP as if too large to decode: their structure walks see the damage instead.
    with (
        mock.patch.object(imagecheck, "JPEG_COEFFICIENT_BUDGET_BYTES", -1),
        mock.patch.object(imagecheck, "WEBP_DECODE_MAX_PIXELS", 0),
    ):
        cause = image_refusal(data, caps)
    if cause is not None:
        assert cause.startswith("image s3://b/in "), cause
        assert " at 0x" not in cause, cause
