"""Probing inputs: real type, dimensions, duration, and that the content backs what the headers say.

Readers are seekable (``RangedS3Reader`` in the pipeline), so Pillow and mutagen seek over what they skip. Images
are checked header first: a decompression bomb is refused on its declared size, never expanded; only then is an
image read once, start to end, and decoded in bounded memory (``imagecheck``). Audio is never decoded: its
duration is checked against the object's size (``audiocheck``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import mutagen
from mutagen.aac import AAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.wave import WAVE
from PIL import Image, UnidentifiedImageError

from .audiocheck import consistent_duration
from .capabilities import ProviderCapabilities
from .errors import InvalidMedia
from .imagecheck import check_image_data
from .jpegcheck import read_jpeg_frame
from .media import SIGNATURE_BYTES, check_audio, check_audio_duration, check_image

# Pipeline-wide: no provider takes portraits anywhere near this; past it a file is refused as a probable bomb.
MAX_IMAGE_PIXELS = 64_000_000
MIN_IMAGE_SIDE_PX = 64
# Tolerates a few KiB of trailer after the end marker (some phones append one).
TAIL_BYTES = 4096
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# The content was sniffed already: parse it as that. (``mutagen.File`` guesses ADTS AAC only from a file name.)
AUDIO_PARSERS: dict[str, type[mutagen.FileType]] = {"wav": WAVE, "mp3": MP3, "m4a": MP4, "aac": AAC}


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


@dataclass(frozen=True)
class AudioInfo:
    format: str
    duration_seconds: float
    duration_estimated: bool
    sample_rate: int | None
    channels: int | None


def probe_image(name: str, stream: BinaryIO, size: int, caps: ProviderCapabilities) -> ImageInfo:
    head = _read_at(stream, 0, SIGNATURE_BYTES)
    found = check_image(name, head, size, caps)
    jpeg_coefficient_bytes = 0
    if found == "webp":
        width, height, animated = _webp_header(name, _read_at(stream, 0, 64), size, caps)
    elif found == "jpeg":
        frame = read_jpeg_frame(stream)
        if frame is None:
            raise InvalidMedia(
                f"image {name} looks like jpeg but has a corrupt or truncated header (no frame size before the "
                f"image data); {caps.provider_id} accepts {_formats(caps.image_formats)} images it can read"
            )
        width, height, animated = frame.width, frame.height, False
        jpeg_coefficient_bytes = frame.buffered_coefficient_bytes
    else:
        width, height, animated = _pillow_header(name, found, stream, caps)
    if animated:
        raise InvalidMedia(f"image {name} is an animated {found}; {caps.provider_id} takes a still portrait")
    check_dimensions(name, width, height, caps)
    _check_complete(name, found, _read_at(stream, max(0, size - TAIL_BYTES), TAIL_BYTES), caps)
    check_image_data(
        name, found, stream, size, caps, pixels=width * height, jpeg_coefficient_bytes=jpeg_coefficient_bytes
    )
    return ImageInfo(format=found, width=width, height=height)


def check_dimensions(name: str, width: int, height: int, caps: ProviderCapabilities) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise InvalidMedia(
            f"image {name} declares {width}x{height} pixels ({width * height / 1e6:.0f} MP); "
            f"portraits over {MAX_IMAGE_PIXELS / 1e6:.0f} MP are refused"
        )
    smallest = max(caps.min_image_side_px or 0, MIN_IMAGE_SIDE_PX)
    if min(width, height) < smallest:
        raise InvalidMedia(
            f"image {name} is {width}x{height} px; {caps.provider_id} needs at least {smallest} px on each side"
        )
    if caps.aspect_ratio_range is not None:
        low, high = caps.aspect_ratio_range
        ratio = width / height
        if not low <= ratio <= high:
            raise InvalidMedia(
                f"image {name} has an aspect ratio of {ratio:.2f}:1 ({width}x{height}); "
                f"{caps.provider_id} accepts 1:{1 / low:g} to {high:g}:1"
            )


def probe_audio(name: str, stream: BinaryIO, size: int, caps: ProviderCapabilities) -> AudioInfo:
    found = check_audio(name, _read_at(stream, 0, SIGNATURE_BYTES), size, caps)
    stream.seek(0)
    try:
        parser = AUDIO_PARSERS.get(found)
        parsed = parser(stream) if parser is not None else mutagen.File(stream)
    except (mutagen.MutagenError, ValueError, EOFError, IndexError) as error:
        raise InvalidMedia(
            f"audio {name} looks like {found} but its header is unreadable ({error}); "
            f"{caps.provider_id} accepts {_formats(caps.audio_formats)} files it can read"
        ) from error
    if parsed is None or parsed.info is None or not getattr(parsed.info, "length", 0):
        raise InvalidMedia(
            f"audio {name} looks like {found} but no duration could be read from it; "
            f"{caps.provider_id} accepts {_formats(caps.audio_formats)} files it can read"
        )
    info = parsed.info
    sample_rate = getattr(info, "sample_rate", None)
    duration, estimated = consistent_duration(name, found, stream, size, float(info.length), sample_rate or 0)
    duration = round(duration, 3)
    check_audio_duration(name, duration, caps, estimated=estimated)
    return AudioInfo(
        format=found,
        duration_seconds=duration,
        duration_estimated=estimated,
        sample_rate=sample_rate,
        channels=getattr(info, "channels", None),
    )


def _read_at(stream: BinaryIO, offset: int, length: int) -> bytes:
    stream.seek(offset)
    return stream.read(length)


def _pillow_header(name: str, found: str, stream: BinaryIO, caps: ProviderCapabilities) -> tuple[int, int, bool]:
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream, formats=["PNG"]) as image:
                return image.width, image.height, bool(getattr(image, "is_animated", False))
    except Image.DecompressionBombError as error:
        # Pillow refuses before it reports the size; its message carries the declared pixel count.
        declared = re.search(r"\((\d+) pixels\)", str(error))
        amount = f"{int(declared.group(1)) / 1e6:.0f} MP" if declared else "too many pixels"
        raise InvalidMedia(
            f"image {name} declares {amount}; portraits over {MAX_IMAGE_PIXELS / 1e6:.0f} MP are refused"
        ) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        # UnidentifiedImageError's text is the repr of the stream object: say nothing rather than that.
        detail = "" if isinstance(error, UnidentifiedImageError) else f" ({error})"
        raise InvalidMedia(
            f"image {name} looks like {found} but has a corrupt or truncated header{detail}; "
            f"{caps.provider_id} accepts {_formats(caps.image_formats)} images it can read"
        ) from error


def _webp_header(name: str, head: bytes, size: int, caps: ProviderCapabilities) -> tuple[int, int, bool]:
    """Canvas size and animation flag from the RIFF header (Pillow would read the whole file to learn them)."""
    riff_size = int.from_bytes(head[4:8], "little")
    if riff_size + 8 > size:
        raise InvalidMedia(
            f"image {name} is a truncated WebP: {size} of {riff_size + 8} bytes; "
            f"{caps.provider_id} needs the complete image"
        )
    chunk = head[12:16]
    try:
        if chunk == b"VP8X":
            animated = bool(head[20] & 0x02)
            width = 1 + int.from_bytes(head[24:27], "little")
            height = 1 + int.from_bytes(head[27:30], "little")
            return width, height, animated
        if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
            return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF, False
        if chunk == b"VP8L" and head[20] == 0x2F:
            bits = int.from_bytes(head[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, False
    except IndexError:
        pass
    raise InvalidMedia(
        f"image {name} has a corrupt WebP header (chunk {chunk!r}); "
        f"{caps.provider_id} accepts {_formats(caps.image_formats)} images it can read"
    )


def _check_complete(name: str, found: str, tail: bytes, caps: ProviderCapabilities) -> None:
    if found == "png" and PNG_IEND not in tail:
        raise InvalidMedia(
            f"image {name} is a truncated PNG (no IEND chunk at the end); {caps.provider_id} needs the complete image"
        )
    if found == "jpeg" and b"\xff\xd9" not in tail:
        raise InvalidMedia(
            f"image {name} is a truncated JPEG (no end-of-image marker); {caps.provider_id} needs the complete image"
        )


def _formats(formats: frozenset[str]) -> str:
    return ", ".join(sorted(formats))
