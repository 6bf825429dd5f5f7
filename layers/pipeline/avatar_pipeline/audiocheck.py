"""An audio file's duration, made consistent with its size before any limit is applied to it.

A header can claim anything: a WAV whose ``data`` size is 0xFFFFFFFF claims 12 hours over a few KiB, an MP3's
Xing frame count or an M4A's ``mdhd`` duration can be patched to any number. Claims the bytes cannot back are
refused; where no header counts the audio (ADTS AAC, MP3 without Xing/VBRI) the duration comes from the frames
(``audioframes``): counted in a file of up to 8 MiB, estimated (and flagged as such) in a larger one.

- WAV with PCM samples: duration is arithmetic, so the header's must match the bytes present at the PCM byte
  rate (channels x bytes per sample x sample rate) within ``DECLARED_SLACK`` (1 %, or 10 ms), either way.
- Compressed WAV: the data chunk must fit in the file, at a declared byte rate of at least ``MIN_BITS_PER_SECOND``.
- MP3 with a frame count: the stream size its Xing/VBRI header records must fit in the object (within 1 %), and
  the average bitrate its duration implies be at least ``MIN_BITS_PER_SECOND``.
- M4A: an average bitrate of at least sample rate / 64 bit/s. AAC never spends under 4 bytes on a frame of 1024
  samples (2048 with SBR); silence encodes to 0.6 kbit/s at 8 kHz, so a flat 4 kbit/s would refuse real files.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import BinaryIO

from .audioframes import duration_from_frames, mp3_vbr_header
from .errors import InvalidMedia

DECLARED_SLACK = 0.01
# MP3 and compressed WAV: MPEG audio has no frame under 8 kbit/s; GSM, ADPCM, G.723.1 and the like run at 5 or more.
MIN_BITS_PER_SECOND = 4000
M4A_SAMPLES_PER_MIN_BIT = 64
LOWEST_AAC_SAMPLE_RATE = 7350
PCM_FORMAT_TAGS = frozenset({1, 3, 6, 7})  # integer PCM, IEEE float, A-law, mu-law
EXTENSIBLE_FORMAT_TAG = 0xFFFE
MAX_WAV_CHUNKS = 100


@dataclass(frozen=True)
class WavHeader:
    format_tag: int
    channels: int
    sample_rate: int
    byte_rate: int
    bits_per_sample: int
    data_offset: int
    data_size: int


def consistent_duration(
    name: str, found: str, stream: BinaryIO, size: int, claimed: float, sample_rate: int
) -> tuple[float, bool]:
    """The duration to enforce and whether it is an estimate; refuses a claim the object's size cannot back."""
    if found == "wav":
        header = read_wav_header(stream)
        return (claimed if header is None else wav_duration(name, header, size, claimed)), False
    vbr = mp3_vbr_header(stream) if found == "mp3" else None
    if found == "aac" or (found == "mp3" and (vbr is None or not vbr.counts_frames)):
        frames = duration_from_frames(stream, size, found)
        return (claimed, True) if frames is None else (frames.seconds, not frames.counted)
    # Compared with the whole object: encoders disagree on whether the recorded size counts the tags.
    if vbr is not None and vbr.stream_bytes and size < vbr.stream_bytes * (1 - DECLARED_SLACK):
        held = claimed * (size - vbr.first_frame_offset) / vbr.stream_bytes
        raise _claim_mismatch(name, claimed, f"{held:.1f} s", size)
    if found == "mp3":
        _check_floor(name, found, claimed, size, MIN_BITS_PER_SECOND)
    elif found == "m4a":
        _check_floor(name, found, claimed, size, max(sample_rate, LOWEST_AAC_SAMPLE_RATE) // M4A_SAMPLES_PER_MIN_BIT)
    return claimed, False


def read_wav_header(stream: BinaryIO) -> WavHeader | None:
    """The fmt fields and where the data chunk lies, walking chunk headers; None if they are not found."""
    offset, fmt = 12, b""
    for _chunk in range(MAX_WAV_CHUNKS):
        stream.seek(offset)
        header = stream.read(8)
        if len(header) < 8:
            return None
        kind, length = header[:4], int.from_bytes(header[4:8], "little")
        if kind == b"fmt ":
            fmt = stream.read(min(length, 40))
        elif kind == b"data":
            if len(fmt) < 16:
                return None
            tag, channels, rate, byte_rate, _block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
            if tag == EXTENSIBLE_FORMAT_TAG and len(fmt) >= 26:
                tag = int.from_bytes(fmt[24:26], "little")  # the sub-format GUID starts with the format tag
            return WavHeader(tag, channels, rate, byte_rate, bits, offset + 8, length)
        offset += 8 + length + (length & 1)
    return None


def wav_duration(name: str, header: WavHeader, size: int, claimed: float) -> float:
    present = max(0, min(header.data_size, size - header.data_offset))
    if header.format_tag in PCM_FORMAT_TAGS:
        bytes_per_second = header.sample_rate * header.channels * math.ceil(header.bits_per_sample / 8)
        held = present / bytes_per_second if bytes_per_second else 0.0
        if not math.isclose(claimed, held, rel_tol=DECLARED_SLACK, abs_tol=0.01):
            raise _claim_mismatch(name, claimed, f"{held:.1f} s", size)
        return claimed
    # Compressed: the declared average byte rate is all there is to go by.
    if header.byte_rate * 8 < MIN_BITS_PER_SECOND:
        raise InvalidMedia(
            f"audio {name}'s header declares {header.byte_rate * 8} bit/s, less than any audio codec writes; "
            "re-export it"
        )
    declared = header.data_size / header.byte_rate
    if header.data_size > size - header.data_offset:
        raise _claim_mismatch(name, declared, f"{present / header.byte_rate:.1f} s", size)
    return declared


def _check_floor(name: str, found: str, claimed: float, size: int, floor: int) -> None:
    held = size * 8 / floor
    if claimed > held:
        note = f", and {found} needs at least {floor / 1000:g} kbit/s"
        raise _claim_mismatch(name, claimed, f"at most {held:.1f} s", size, note)


def _claim_mismatch(name: str, claimed: float, held: str, size: int, note: str = "") -> InvalidMedia:
    amount = f"{size / 1024:.1f} KiB" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MiB"
    return InvalidMedia(
        f"audio {name}'s header claims {claimed:.1f} s of audio but the file holds {held} ({amount}{note}); "
        "re-export it"
    )
