"""The decode pass: once its headers pass, an image is read start to end and decoded enough to be sure a provider
can read it, in bounded memory. A decompression bomb never gets here: it was refused on its declared size.

- PNG: streamed through ``pngcheck`` (chunk CRCs, inflated size, row filters), never held whole.
- JPEG: decoded by Pillow at 1/8 scale (``Image.draft``): every block is still entropy-decoded, into a pixel
  buffer 1/64 of the full one. Data in several scans (progressive) makes libjpeg keep every DCT coefficient of
  the full-size image; past ``JPEG_COEFFICIENT_BUDGET_BYTES`` only the structure is walked (``jpegcheck``).
- WebP: Pillow holds the whole file and decodes the whole canvas (4 bytes a pixel, several copies), so it decodes
  only up to ``WEBP_DECODE_MAX_PIXELS`` and ``WEBP_DECODE_MAX_BYTES``; past them the RIFF structure is checked.

These bounds keep the pass under about 100 MiB in the 256 MB ValidateMedia function (peak RSS growth measured at
the bounds: WebP 76 MiB, progressive JPEG 66 MiB, 64 MP baseline JPEG 6 MiB, PNG 1 MiB). PNG and JPEG are read
through one ``SEQUENTIAL_READ_BYTES`` buffer: over ``RangedS3Reader`` that is one ranged GET per MiB, not one per
8 KiB block.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

from PIL import Image, UnidentifiedImageError

from .capabilities import ProviderCapabilities
from .errors import InvalidMedia
from .jpegcheck import jpeg_structure_problem
from .pngcheck import CorruptPng, check_png_data
from .webpcheck import webp_structure_problem

SEQUENTIAL_READ_BYTES = 1024 * 1024
JPEG_COEFFICIENT_BUDGET_BYTES = 64 * 1024 * 1024  # a progressive 4:2:0 JPEG of about 22 MP
WEBP_DECODE_MAX_PIXELS = 2048 * 2048
WEBP_DECODE_MAX_BYTES = 16 * 1024 * 1024
# What Pillow raises on bad data; anything else (an S3 failure mid-read) is not the image's fault.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


def check_image_data(
    name: str,
    found: str,
    stream: BinaryIO,
    size: int,
    caps: ProviderCapabilities,
    *,
    pixels: int,
    jpeg_coefficient_bytes: int = 0,
) -> None:
    """Refuses, as ``InvalidMedia``, an image whose data is corrupt. Runs after the header and size checks."""
    if found == "png":
        problem = _png_problem(stream)
    elif found == "jpeg":
        problem = _jpeg_problem(stream, size, jpeg_coefficient_bytes)
    elif found == "webp":
        problem = _webp_problem(stream, size, pixels)
    else:
        return
    if problem is not None:
        raise InvalidMedia(
            f"image {name} looks like {found} but its image data is corrupt ({problem}); "
            f"{caps.provider_id} accepts {', '.join(sorted(caps.image_formats))} images it can read"
        )


def _png_problem(stream: BinaryIO) -> str | None:
    with sequential(stream) as reader:
        try:
            check_png_data(reader)
        except CorruptPng as error:
            return str(error)
    return None


def _jpeg_problem(stream: BinaryIO, size: int, coefficient_bytes: int) -> str | None:
    with sequential(stream) as reader:
        if coefficient_bytes > JPEG_COEFFICIENT_BUDGET_BYTES:
            return jpeg_structure_problem(reader, size)
        return _pillow_problem(reader, "JPEG")


def _webp_problem(stream: BinaryIO, size: int, pixels: int) -> str | None:
    if pixels > WEBP_DECODE_MAX_PIXELS or size > WEBP_DECODE_MAX_BYTES:
        return webp_structure_problem(stream, size)
    stream.seek(0)
    return _pillow_problem(io.BytesIO(stream.read(size)), "WEBP")


def _pillow_problem(source: BinaryIO, pillow_format: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source, formats=[pillow_format]) as image:
                image.draft(None, (1, 1))  # JPEG: the smallest scale libjpeg decodes to, 1/8; others ignore it
                image.load()
    except DECODE_ERRORS as error:
        if isinstance(error, UnidentifiedImageError):
            return "Pillow cannot identify it"
        # Never the repr of a stream object in a cause (UnidentifiedImageError's text is one).
        text = str(error)
        return text if text and " at 0x" not in text else type(error).__name__
    return None


@contextmanager
def sequential(stream: BinaryIO) -> Iterator[io.BufferedReader]:
    """``stream`` from its start through a large read buffer, left open (a BufferedReader would close it)."""
    stream.seek(0)
    reader: io.BufferedReader = io.BufferedReader(cast(io.RawIOBase, stream), SEQUENTIAL_READ_BYTES)
    try:
        yield reader
    finally:
        reader.detach()
