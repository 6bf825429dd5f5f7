"""Audio durations consistent with the object's size: frame counts and estimates for ADTS AAC and MP3 without a
frame count (with the estimate tolerance), WAV headers checked against the bytes present, bitrate floors for
declared durations, and no false positives on real files, silent ones included.
"""

from __future__ import annotations

import functools
import io
import random
import re
import struct
import wave
from typing import cast

import av
import numpy as np
import pytest
from avatar_local.samples import speech_audio
from avatar_pipeline import audioframes
from avatar_pipeline.audioframes import ADTS_SAMPLE_RATES, WHOLE_READ_BYTES, adts_frame, mpeg_frame
from avatar_pipeline.capabilities import (
    KLING_AVATAR,
    WAVESPEED_HUNYUAN_AVATAR,
    WAVESPEED_OMNIHUMAN_15,
    ProviderCapabilities,
)
from avatar_pipeline.errors import InvalidMedia
from avatar_pipeline.probe import AudioInfo, probe_audio
from mutagen.mp3 import HeaderNotFoundError, MPEGFrame

HUNYUAN = WAVESPEED_HUNYUAN_AVATAR
# Files past this are estimated from sampled frames; the tests lower the threshold rather than build 8 MiB files.
ESTIMATE_PAST_BYTES = 64 * 1024
ESTIMATED = re.compile(r"^audio s3://b/voice\.(aac|mp3) is about (\d+\.\d) s \(estimated from its frames\); ")
MPEG1_LAYER3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


def probe(data: bytes, name: str, caps: ProviderCapabilities = WAVESPEED_OMNIHUMAN_15) -> AudioInfo:
    return probe_audio(name, io.BytesIO(data), len(data), caps)


def refusal(data: bytes, name: str, caps: ProviderCapabilities = WAVESPEED_OMNIHUMAN_15) -> str:
    with pytest.raises(InvalidMedia) as caught:
        probe(data, name, caps)
    return caught.value.cause


def adts_audio(seconds: float, *, rate: int = 16000, frame_bytes: int = 200) -> bytes:
    """Synthetic ADTS: AAC-LC mono frames of ``frame_bytes`` (header included), 1024 samples each."""
    index = ADTS_SAMPLE_RATES.index(rate)
    header = bytes(
        [
            0xFF,
            0xF1,  # MPEG-4, layer 0, no CRC
            (1 << 6) | (index << 2),  # AAC LC
            (1 << 6) | (frame_bytes >> 11),  # one channel
            (frame_bytes >> 3) & 0xFF,
            ((frame_bytes & 0x07) << 5) | 0x1F,
            0xFC,  # one raw data block
        ]
    )
    return (header + bytes(frame_bytes - 7)) * round(seconds * rate / 1024)


def mpeg_audio(seconds: float, *, seed: int = 0) -> bytes:
    """Synthetic VBR MP3 without a Xing header: MPEG-1 layer III 44.1 kHz mono frames of random bitrates."""
    rng = random.Random(seed)
    frames = bytearray()
    for _frame in range(round(seconds * 44100 / 1152)):
        index = rng.randrange(1, 15)
        frames += bytes([0xFF, 0xFB, index << 4, 0xC0]) + bytes(144 * MPEG1_LAYER3_KBPS[index] * 1000 // 44100 - 4)
    return bytes(frames)


@functools.cache
def encode(seconds: float, fmt: str, codec: str, *, rate: int = 16000, silent: bool = False) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = cast(av.AudioStream, container.add_stream(codec, rate=rate, layout="mono"))
        count = round(seconds * rate)
        samples = np.zeros((1, count), np.float32)
        if not silent:
            samples = np.random.default_rng(3).normal(0, 0.1, (1, count)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def pcm_wav(seconds: float, *, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(round(seconds * rate) * 2))
    return buffer.getvalue()


def wav_of(fmt: bytes, data: bytes, *, after: bytes = b"") -> bytes:
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    body += b"\x00" * (len(data) & 1) + after
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.fixture
def estimating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audioframes, "WHOLE_READ_BYTES", ESTIMATE_PAST_BYTES)


# --- ADTS AAC and MP3 without a frame count -------------------------------------------------------


def test_400_s_adts_aac_is_counted_and_refused_for_a_120_s_provider() -> None:
    aac = encode(400.0, "adts", "aac")
    assert len(aac) <= WHOLE_READ_BYTES
    cause = refusal(aac, "s3://b/voice.aac", HUNYUAN)
    match = re.match(r"^audio s3://b/voice\.aac is (\d+\.\d) s; wavespeed/hunyuan-avatar accepts under 120 s$", cause)
    assert match is not None, cause
    assert float(match.group(1)) == pytest.approx(400.0, abs=0.2)


@pytest.mark.usefixtures("estimating")
def test_400_s_adts_aac_too_large_to_count_is_estimated_and_refused() -> None:
    aac = encode(400.0, "adts", "aac")
    cause = refusal(aac, "s3://b/voice.aac", HUNYUAN)
    match = ESTIMATED.match(cause)
    assert match is not None, cause
    assert float(match.group(2)) == pytest.approx(400.0, rel=0.05)
    assert cause.endswith("; wavespeed/hunyuan-avatar accepts under 120 s")


def test_counted_adts_aac_is_held_to_the_limit_exactly() -> None:
    assert refusal(adts_audio(121.0), "s3://b/voice.aac", HUNYUAN) == (
        "audio s3://b/voice.aac is 121.0 s; wavespeed/hunyuan-avatar accepts under 120 s"
    )
    assert probe(adts_audio(119.9), "s3://b/voice.aac", HUNYUAN).duration_estimated is False


@pytest.mark.usefixtures("estimating")
@pytest.mark.parametrize(("seconds", "accepted"), [(131.0, True), (133.0, False)])
def test_estimated_aac_is_refused_only_past_the_limit_plus_ten_percent(seconds: float, accepted: bool) -> None:
    aac = adts_audio(seconds)
    assert len(aac) > ESTIMATE_PAST_BYTES
    if accepted:
        info = probe(aac, "s3://b/voice.aac", HUNYUAN)
        assert info.duration_estimated is True
        assert info.duration_seconds == pytest.approx(seconds, abs=0.05)
    else:
        assert refusal(aac, "s3://b/voice.aac", HUNYUAN) == (
            f"audio s3://b/voice.aac is about {seconds:.1f} s (estimated from its frames); "
            "wavespeed/hunyuan-avatar accepts under 120 s"
        )


@pytest.mark.usefixtures("estimating")
@pytest.mark.parametrize(("seconds", "accepted"), [(1.85, True), (1.7, False)])
def test_estimated_aac_is_refused_only_under_the_minimum_less_ten_percent(seconds: float, accepted: bool) -> None:
    aac = adts_audio(seconds, rate=96000, frame_bytes=1000)
    assert len(aac) > ESTIMATE_PAST_BYTES
    if accepted:
        assert probe(aac, "s3://b/voice.aac", KLING_AVATAR).duration_estimated is True
    else:
        assert refusal(aac, "s3://b/voice.aac", KLING_AVATAR) == (
            "audio s3://b/voice.aac is about 1.7 s (estimated from its frames); kling/avatar needs at least 2 s"
        )


def test_vbr_mp3_without_a_xing_header_is_counted_and_enforced() -> None:
    mp3 = mpeg_audio(150.0)
    cause = refusal(mp3, "s3://b/voice.mp3", HUNYUAN)
    assert cause == "audio s3://b/voice.mp3 is 150.0 s; wavespeed/hunyuan-avatar accepts under 120 s"


@pytest.mark.usefixtures("estimating")
def test_vbr_mp3_without_a_xing_header_too_large_to_count_is_estimated_and_enforced() -> None:
    mp3 = mpeg_audio(150.0)
    cause = refusal(mp3, "s3://b/voice.mp3", HUNYUAN)
    match = ESTIMATED.match(cause)
    assert match is not None, cause
    assert float(match.group(2)) == pytest.approx(150.0, rel=0.05)


@pytest.mark.usefixtures("estimating")
def test_vbr_mp3_without_a_xing_header_within_the_tolerance_is_accepted_as_an_estimate() -> None:
    info = probe(mpeg_audio(125.0, seed=1), "s3://b/voice.mp3", HUNYUAN)
    assert info.duration_estimated is True
    assert info.duration_seconds == pytest.approx(125.0, rel=0.05)


@pytest.mark.usefixtures("estimating")
def test_long_aac_is_estimated_within_five_percent() -> None:
    aac = encode(180.0, "adts", "aac", rate=44100)
    info = probe(aac, "s3://b/voice.aac")
    assert info.duration_estimated is True
    assert info.duration_seconds == pytest.approx(180.0, rel=0.05)


def test_layer_iii_frame_headers_are_read_as_mutagen_reads_them() -> None:
    # Every layer III header (sync, version, protection, bitrate, rate, padding, private bit, channel mode).
    for second in (0xE2, 0xE3, 0xEA, 0xEB, 0xF2, 0xF3, 0xFA, 0xFB):
        for third in range(256):
            for fourth in (0x00, 0x40, 0x80, 0xC0):
                header = bytes([0xFF, second, third, fourth])
                ours = mpeg_frame(header)
                stream = io.BytesIO(header + bytes(2000))
                try:
                    theirs = MPEGFrame(stream)  # type: ignore[no-untyped-call]
                except HeaderNotFoundError:
                    assert ours is None, header.hex()
                    continue
                assert ours is not None, header.hex()
                assert (ours.length, ours.sample_rate) == (stream.tell(), theirs.sample_rate), header.hex()


def test_adts_header_fields() -> None:
    frame = adts_frame(adts_audio(0.1, rate=44100, frame_bytes=371)[:7])
    assert frame is not None
    assert (frame.length, frame.samples, frame.sample_rate) == (371, 1024, 44100)
    assert adts_frame(b"\xff\xf1\x7c\x40\x2e\x7f\xfc") is None, "sampling frequency index 15 is not a rate"


# --- WAV ------------------------------------------------------------------------------------------


def test_wav_whose_data_size_is_all_ones_is_refused_saying_what_it_holds() -> None:
    wav = bytearray(speech_audio(0.5, sample_rate=48000))
    data = wav.index(b"data")
    wav[data + 4 : data + 8] = b"\xff\xff\xff\xff"
    assert refusal(bytes(wav), "s3://b/voice.wav") == (
        "audio s3://b/voice.wav's header claims 44739.2 s of audio but the file holds 0.5 s "
        f"({len(wav) / 1024:.1f} KiB); re-export it"
    )


def test_truncated_wav_is_refused() -> None:
    wav = pcm_wav(3.0)
    assert refusal(wav[: 44 + 24000], "s3://b/voice.wav") == (
        "audio s3://b/voice.wav's header claims 3.0 s of audio but the file holds 1.5 s (23.5 KiB); re-export it"
    )


def test_wav_whose_block_align_disagrees_with_its_samples_is_refused() -> None:
    wav = bytearray(pcm_wav(3.0))
    wav[32:34] = (8).to_bytes(2, "little")  # block align 8 for 16-bit mono: a quarter of the duration
    assert refusal(bytes(wav), "s3://b/voice.wav") == (
        "audio s3://b/voice.wav's header claims 0.8 s of audio but the file holds 3.0 s (46.9 KiB); re-export it"
    )


@pytest.mark.parametrize(
    ("fmt", "frame_bytes"),
    [
        (struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32), 4),  # IEEE float
        (struct.pack("<HHIIHH", 1, 2, 8000, 16000, 2, 8), 2),  # 8-bit stereo
        # WAVE_FORMAT_EXTENSIBLE, 24 bits in 3 bytes, sub-format PCM
        (struct.pack("<HHIIHHHHI", 0xFFFE, 1, 8000, 24000, 3, 24, 22, 24, 4) + b"\x01\x00" + bytes(14), 3),
    ],
    ids=["float", "8-bit-stereo", "extensible-24-bit"],
)
def test_other_pcm_wavs_pass(fmt: bytes, frame_bytes: int) -> None:
    wav = wav_of(fmt, bytes(8000 * 3 * frame_bytes), after=b"LIST" + struct.pack("<I", 5) + b"INFOx\x00")
    info = probe(wav, "s3://b/voice.wav")
    assert (info.duration_seconds, info.duration_estimated) == (3.0, False)


def test_compressed_wav_takes_its_duration_from_its_byte_rate() -> None:
    ima_adpcm = struct.pack("<HHIIHH", 0x11, 1, 8000, 4055, 256, 4)
    assert probe(wav_of(ima_adpcm, bytes(4055 * 3)), "s3://b/voice.wav").duration_seconds == 3.0
    cut = wav_of(ima_adpcm, bytes(4055 * 3))[: 44 + 4055]
    assert refusal(cut, "s3://b/voice.wav") == (
        "audio s3://b/voice.wav's header claims 3.0 s of audio but the file holds 1.0 s (4.0 KiB); re-export it"
    )
    crawling = struct.pack("<HHIIHH", 0x11, 1, 8000, 100, 256, 4)
    assert refusal(wav_of(crawling, bytes(300)), "s3://b/voice.wav") == (
        "audio s3://b/voice.wav's header declares 800 bit/s, less than any audio codec writes; re-export it"
    )


# --- declared durations against the bitrate floor -------------------------------------------------


def test_mp3_whose_xing_frame_count_lies_is_refused() -> None:
    mp3 = bytearray(encode(3.0, "mp3", "libmp3lame"))
    tag = mp3.index(b"Info") if b"Info" in mp3 else mp3.index(b"Xing")
    mp3[tag + 8 : tag + 12] = (10_000_000).to_bytes(4, "big")
    cause = refusal(bytes(mp3), "s3://b/voice.mp3")
    assert cause.startswith("audio s3://b/voice.mp3's header claims 360000.0 s of audio but the file holds at most ")
    assert cause.endswith(f" s ({len(mp3) / 1024:.1f} KiB, and mp3 needs at least 4 kbit/s); re-export it")


def test_mp3_cut_short_of_the_size_its_xing_header_records_is_refused() -> None:
    mp3 = encode(4.0, "mp3", "libmp3lame")
    cut = mp3[: len(mp3) // 2]
    claimed = probe(mp3, "s3://b/voice.mp3").duration_seconds  # 4 s and the encoder's padding
    assert refusal(cut, "s3://b/voice.mp3") == (
        f"audio s3://b/voice.mp3's header claims {claimed:.1f} s of audio but the file holds 2.0 s "
        f"({len(cut) / 1024:.1f} KiB); re-export it"
    )


def test_m4a_whose_duration_lies_is_refused() -> None:
    m4a = bytearray(speech_audio(3.0, fmt="m4a"))
    mdhd = m4a.index(b"mdhd")
    timescale = int.from_bytes(m4a[mdhd + 16 : mdhd + 20], "big")
    m4a[mdhd + 20 : mdhd + 24] = (timescale * 36000).to_bytes(4, "big")
    held = len(m4a) * 8 / (24000 // 64)
    assert refusal(bytes(m4a), "s3://b/voice.m4a") == (
        f"audio s3://b/voice.m4a's header claims 36000.0 s of audio but the file holds at most {held:.1f} s "
        f"({len(m4a) / 1024:.1f} KiB, and m4a needs at least 0.375 kbit/s); re-export it"
    )


@pytest.mark.parametrize(
    ("fmt", "codec", "name"),
    [("ipod", "aac", "voice.m4a"), ("adts", "aac", "voice.aac"), ("mp3", "libmp3lame", "voice.mp3")],
)
@pytest.mark.parametrize("rate", [8000, 48000])
def test_silence_is_not_mistaken_for_a_lie(fmt: str, codec: str, name: str, rate: int) -> None:
    # AAC encodes a minute of silence at 8 kHz in about 4.6 KiB: 0.6 kbit/s, far under a flat 4 kbit/s floor.
    info = probe(encode(60.0, fmt, codec, rate=rate, silent=True), f"s3://b/{name}")
    assert info.duration_seconds == pytest.approx(60.0, abs=0.3)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a"])
@pytest.mark.parametrize("seconds", [0.5, 1.0, 1.5, 2.5, 4.0])
def test_sample_speech_passes(fmt: str, seconds: float) -> None:
    info = probe(speech_audio(seconds, fmt=fmt), f"s3://b/voice.{fmt}")
    assert info.duration_seconds == pytest.approx(seconds, abs=0.1)
