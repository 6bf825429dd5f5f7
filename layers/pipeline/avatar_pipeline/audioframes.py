"""Durations of frame-based audio that carries no frame count: ADTS AAC, and MP3 without a Xing/VBRI header.

Audio of up to ``WHOLE_READ_BYTES`` is read in one piece and its frames counted: the duration is exact. That
covers over 200 s even at 320 kbit/s, so every duration near a provider's limit (60, 120, 300 s) is counted.
Past it, frame headers are read in ``WINDOWS`` windows spread evenly over the object; each gives a density, frames
per byte, and their mean times the audio bytes is the frame count (evenly spread byte windows fall more often
where frames are large, which is why densities are averaged rather than frame lengths). Constant-bitrate audio
is estimated exactly; speech at a varying bitrate within about 5 %, 13 % at worst in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import fmean
from typing import BinaryIO

WHOLE_READ_BYTES = 8 * 1024 * 1024
WINDOWS = 16
WINDOW_BYTES = 8 * 1024
# Consecutive frames, each header where the previous frame ends, that make a sync word believable.
MIN_CHAIN = 3
ID3V1_BYTES = 128
ADTS_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
ADTS_SAMPLES_PER_BLOCK = 1024
# MPEG version bits (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5) to sample rates by index.
MPEG_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_LOW_RATES = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
# (MPEG-1?, layer) to kbit/s by bitrate index.
MPEG_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): _LOW_RATES,
    (False, 3): _LOW_RATES,
}


@dataclass(frozen=True)
class Frame:
    length: int
    samples: int
    sample_rate: int
    stream: tuple[int, ...]  # the header fields every frame of one stream shares


@dataclass(frozen=True)
class VbrHeader:
    counts_frames: bool
    stream_bytes: int | None  # the MPEG stream's size as written, from the first frame on
    first_frame_offset: int


@dataclass(frozen=True)
class FrameDuration:
    seconds: float
    counted: bool  # every frame was read, so the duration is exact rather than estimated


def adts_frame(header: bytes) -> Frame | None:
    if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
        return None
    rate_index = (header[2] >> 2) & 0x0F
    channels = ((header[2] & 0x01) << 2) | (header[3] >> 6)
    length = ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
    header_length = 7 if header[1] & 0x01 else 9
    if rate_index >= len(ADTS_SAMPLE_RATES) or length <= header_length:
        return None
    samples = ADTS_SAMPLES_PER_BLOCK * ((header[6] & 0x03) + 1)
    stream = (header[1] & 0x08, header[2] >> 6, rate_index, channels)  # MPEG version, profile, rate, channels
    return Frame(length, samples, ADTS_SAMPLE_RATES[rate_index], stream)


def mpeg_frame(header: bytes) -> Frame | None:
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (header[1] >> 3) & 0x03, (header[1] >> 1) & 0x03
    bitrate_index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 0x03, (header[2] >> 1) & 0x01
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer, mpeg1 = 4 - layer_bits, version == 3
    bitrate = MPEG_BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    sample_rate = MPEG_SAMPLE_RATES[version][rate_index]
    if layer == 1:
        samples, length = 384, (12 * bitrate // sample_rate + padding) * 4
    else:
        samples = 576 if layer == 3 and not mpeg1 else 1152
        length = samples // 8 * bitrate // sample_rate + padding
    return Frame(length, samples, sample_rate, (version, layer_bits, rate_index))


FRAME_PARSERS: dict[str, Callable[[bytes], Frame | None]] = {"aac": adts_frame, "mp3": mpeg_frame}


def duration_from_frames(stream: BinaryIO, size: int, found: str) -> FrameDuration | None:
    """Duration from the frames (``found`` is "aac" or "mp3"); None if the audio does not start with frames."""
    parse = FRAME_PARSERS[found]
    audio_start = id3v2_bytes(_read_at(stream, 0, 10)) if found == "mp3" else 0
    span = size - audio_start
    if span <= 0:
        return None
    whole = span <= WHOLE_READ_BYTES
    window_bytes = span if whole else WINDOW_BYTES
    step = (span - window_bytes) / (WINDOWS - 1)
    first: tuple[int, Frame] | None = None
    densities: list[float] = []
    samples: list[float] = []
    audio_end = reached = size
    windows = 1 if whole else WINDOWS
    for index in range(windows):
        # Windows after the first start on a window boundary, so each is one block of a ranged reader; the
        # last runs to the end of the object, where an ID3v1 tag may sit.
        offset = audio_start if index == 0 else (audio_start + round(index * step)) // WINDOW_BYTES * WINDOW_BYTES
        window = _read_at(stream, offset, size - offset if index == windows - 1 else window_bytes)
        if offset + len(window) >= size and window[-ID3V1_BYTES:].startswith(b"TAG"):
            audio_end -= ID3V1_BYTES
        chain = _chain(window, parse, first[1].stream if first else None)
        if chain is None:
            if first is None:
                return None
            continue
        chain_offset, frames = chain
        first = first or (offset + chain_offset, frames[0])
        reached = offset + chain_offset + sum(frame.length for frame in frames)
        densities.append(len(frames) / sum(frame.length for frame in frames))
        samples.append(fmean(frame.samples for frame in frames))
    assert first is not None  # the first window returned early without a chain
    first_offset, first_frame = first
    if whole and reached >= audio_end:
        return FrameDuration(sum(frame.samples for frame in frames) / first_frame.sample_rate, counted=True)
    frame_count = (audio_end - first_offset) * fmean(densities)
    return FrameDuration(frame_count * fmean(samples) / first_frame.sample_rate, counted=False)


def mp3_vbr_header(stream: BinaryIO) -> VbrHeader | None:
    """The Xing/Info or VBRI header in the first MP3 frame, if there is one."""
    audio_start = id3v2_bytes(_read_at(stream, 0, 10))
    chain = _chain(_read_at(stream, audio_start, WINDOW_BYTES), mpeg_frame, None)
    if chain is None:
        return None
    first_frame_offset = audio_start + chain[0]
    head = _read_at(stream, first_frame_offset, 64)
    mpeg1, mono = (head[1] >> 3) & 0x03 == 3, head[3] >> 6 == 3
    tag = 4 + ((17 if mono else 32) if mpeg1 else (9 if mono else 17))
    if head[tag : tag + 4] in (b"Xing", b"Info"):
        flags = int.from_bytes(head[tag + 4 : tag + 8], "big")
        bytes_at = tag + 8 + (4 if flags & 0x01 else 0)
        stream_bytes = int.from_bytes(head[bytes_at : bytes_at + 4], "big") if flags & 0x02 else None
        return VbrHeader(bool(flags & 0x01), stream_bytes, first_frame_offset)
    if head[36:40] == b"VBRI":
        return VbrHeader(True, int.from_bytes(head[46:50], "big"), first_frame_offset)
    return None


def id3v2_bytes(head: bytes) -> int:
    """Size of an ID3v2 tag at the start (header, syncsafe size, footer), 0 without one."""
    if len(head) < 10 or not head.startswith(b"ID3"):
        return 0
    size = 0
    for byte in head[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size + (10 if head[5] & 0x10 else 0)


def _chain(
    window: bytes, parse: Callable[[bytes], Frame | None], stream: tuple[int, ...] | None
) -> tuple[int, list[Frame]] | None:
    """Offset and frames of the first run of ``MIN_CHAIN`` or more consecutive frames in ``window`` (all of
    ``stream`` when given, else all of the stream of the run's first frame)."""
    candidate = window.find(b"\xff")
    while candidate != -1:
        frames: list[Frame] = []
        offset, expected = candidate, stream
        while (frame := parse(window[offset : offset + 9])) is not None:
            expected = expected or frame.stream
            if frame.stream != expected:
                break
            frames.append(frame)
            offset += frame.length
        if len(frames) >= MIN_CHAIN:
            return candidate, frames
        candidate = window.find(b"\xff", candidate + 1)
    return None


def _read_at(stream: BinaryIO, offset: int, length: int) -> bytes:
    stream.seek(offset)
    return stream.read(length)
