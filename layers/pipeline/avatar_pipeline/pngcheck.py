"""PNG image data checked by streaming it once: every chunk's CRC, and the IDAT stream inflated to exactly the
bytes IHDR implies, each row starting with a defined filter type. The image itself is never held.

Memory stays bounded: chunk data is read ``PIECE_BYTES`` at a time and ``zlib.decompressobj`` is asked for at most
``INFLATE_BYTES`` per call, so a 64 MP PNG is checked with well under a MiB of buffers.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PIECE_BYTES = 256 * 1024
INFLATE_BYTES = 256 * 1024
MAX_CHUNK_BYTES = 2**31 - 1
# Encoders write IDAT chunks of KiBs; hundreds of thousands of tiny chunks would only burn the function's time.
MAX_CHUNKS = 200_000
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# Adam7: first column, first row, column step and row step of each of the seven passes.
ADAM7_PASSES = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
MAX_FILTER_TYPE = 4


class CorruptPng(Exception):
    """What is wrong with the image data, worded to follow "its image data is corrupt (...)"."""


@dataclass(frozen=True)
class RowSpan:
    """Where one pass's rows lie in the inflated stream: each row is a filter byte and ``stride - 1`` pixel bytes."""

    pass_number: int
    start: int
    end: int
    stride: int


def check_png_data(stream: BinaryIO) -> None:
    """Reads ``stream`` from its start to IEND; raises ``CorruptPng`` on the first problem."""
    stream.seek(0)
    if stream.read(8) != PNG_SIGNATURE:
        raise CorruptPng("no PNG signature")
    offset, image, order = 8, None, ChunkOrder()
    for _chunk in range(MAX_CHUNKS):
        head = stream.read(8)
        if len(head) < 8:
            raise CorruptPng("it ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", head)
        order.see(kind, length, offset, image)
        ihdr = _read_chunk(stream, kind, length, offset, image)
        if kind == b"IHDR":
            image = ImageData.from_ihdr(ihdr)
        elif kind == b"IEND" and image is not None:
            order.finish()
            image.finish()
            return
        offset += 12 + length
    raise CorruptPng(f"it has more than {MAX_CHUNKS} chunks")


def _read_chunk(stream: BinaryIO, kind: bytes, length: int, offset: int, image: ImageData | None) -> bytes:
    """Reads a chunk's data and CRC, feeding IDAT data to ``image``; returns the data of an IHDR, else nothing."""
    name = kind.decode("latin-1")
    crc = zlib.crc32(kind)
    kept = b""
    inflate_problem: CorruptPng | None = None  # reported after the CRC, which says more when it fails too
    remaining = length
    while remaining:
        piece = stream.read(min(PIECE_BYTES, remaining))
        if not piece:
            raise CorruptPng(f"it ends inside its {name} chunk at byte {offset}")
        crc = zlib.crc32(piece, crc)
        remaining -= len(piece)
        if kind == b"IDAT" and image is not None and inflate_problem is None:
            try:
                image.feed(piece)
            except CorruptPng as problem:
                inflate_problem = problem
        elif kind == b"IHDR":
            kept += piece
    stored = stream.read(4)
    if len(stored) < 4 or int.from_bytes(stored, "big") != crc:
        raise CorruptPng(f"the CRC of its {name} chunk at byte {offset} does not match its content")
    if inflate_problem is not None:
        raise inflate_problem
    return kept


class ChunkOrder:
    """The ordering rules decoders hold a PNG to: IHDR first and once, a palette before the image data of a
    palette image, and IDAT chunks present and consecutive."""

    def __init__(self) -> None:
        self.palette = False
        self.image_data = "none"  # then "open" at the first IDAT, "closed" at the next other chunk

    def see(self, kind: bytes, length: int, offset: int, image: ImageData | None) -> None:
        name = kind.decode("latin-1")
        if length > MAX_CHUNK_BYTES:
            raise CorruptPng(f"chunk {name!r} at byte {offset} declares {length} bytes")
        if (image is None) != (kind == b"IHDR"):
            raise CorruptPng(
                "the first chunk is not IHDR" if image is None else f"it has a second IHDR chunk at byte {offset}"
            )
        if kind == b"IHDR" and length != 13:
            raise CorruptPng(f"its IHDR chunk is {length} bytes, not 13")
        if kind == b"IDAT":
            if self.image_data == "closed":
                raise CorruptPng(f"its IDAT chunks are not consecutive (another one at byte {offset})")
            if image is not None and image.needs_palette and not self.palette:
                raise CorruptPng("it has no PLTE chunk before its image data, which its colour type needs")
            self.image_data = "open"
        elif self.image_data == "open":
            self.image_data = "closed"
        self.palette = self.palette or kind == b"PLTE"

    def finish(self) -> None:
        if self.image_data == "none":
            raise CorruptPng("it has no IDAT chunk")


class ImageData:
    """Inflates the IDAT stream piece by piece and checks it without keeping more than one inflated piece."""

    def __init__(self, width: int, height: int, color_type: int, bits_per_pixel: int, interlaced: bool) -> None:
        self.width, self.height = width, height
        self.needs_palette = color_type == 3
        self.rows = row_spans(width, height, bits_per_pixel, interlaced)
        self.interlaced = interlaced
        self.expected = self.rows[-1].end if self.rows else 0
        self.produced = 0
        self._inflater = zlib.decompressobj()

    @classmethod
    def from_ihdr(cls, ihdr: bytes) -> ImageData:
        width, height, depth, color_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", ihdr)
        if not (0 < width <= MAX_CHUNK_BYTES and 0 < height <= MAX_CHUNK_BYTES):
            raise CorruptPng(f"its IHDR declares {width}x{height} pixels")
        if depth not in BIT_DEPTHS.get(color_type, ()):
            raise CorruptPng(f"its IHDR declares colour type {color_type} at {depth} bits, which PNG does not define")
        if compression or filtering or interlace > 1:
            raise CorruptPng(
                f"its IHDR declares compression {compression}, filter method {filtering}, interlace {interlace}"
            )
        return cls(width, height, color_type, CHANNELS[color_type] * depth, interlace == 1)

    def feed(self, compressed: bytes) -> None:
        if self._inflater.eof:
            return  # bytes after the end of the zlib stream: decoders ignore them, and so do we
        pending = compressed
        while True:
            try:
                inflated = self._inflater.decompress(pending, INFLATE_BYTES)
            except zlib.error as error:
                raise CorruptPng(f"its IDAT stream does not inflate: {error}") from error
            self._check_rows(inflated)
            pending = self._inflater.unconsumed_tail
            if self._inflater.eof or (not pending and len(inflated) < INFLATE_BYTES):
                return

    def finish(self) -> None:
        if self.produced != self.expected:
            raise CorruptPng(
                f"its IDAT stream inflates to {self.produced} bytes where its {self.width}x{self.height} header "
                f"implies {self.expected}"
            )

    def _check_rows(self, inflated: bytes) -> None:
        start = self.produced
        end = start + len(inflated)
        self.produced = end
        if end > self.expected:
            raise CorruptPng(
                f"its IDAT stream inflates to more than the {self.expected} bytes its "
                f"{self.width}x{self.height} header implies"
            )
        for span in self.rows:
            low, high = max(span.start, start), min(span.end, end)
            if low >= high:
                continue
            first = span.start + -(-(low - span.start) // span.stride) * span.stride
            filters = inflated[first - start : high - start : span.stride]
            if filters and max(filters) > MAX_FILTER_TYPE:
                index = next(i for i, value in enumerate(filters) if value > MAX_FILTER_TYPE)
                row = (first - span.start) // span.stride + index
                where = f"row {row} of Adam7 pass {span.pass_number}" if self.interlaced else f"row {row}"
                raise CorruptPng(f"{where} starts with filter type {filters[index]}; PNG defines 0 to 4")


def row_spans(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> list[RowSpan]:
    """The non-empty passes (one, or Adam7's seven) in stream order; a pass with no pixels has no rows at all."""
    passes = ADAM7_PASSES if interlaced else ((0, 0, 1, 1),)
    spans: list[RowSpan] = []
    offset = 0
    for number, (column, row, column_step, row_step) in enumerate(passes, start=1):
        columns = max(0, -(-(width - column) // column_step))
        rows = max(0, -(-(height - row) // row_step))
        if columns and rows:
            stride = 1 + (columns * bits_per_pixel + 7) // 8
            spans.append(RowSpan(number, offset, offset + rows * stride, stride))
            offset += rows * stride
    return spans
