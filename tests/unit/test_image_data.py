"""The decode pass of ``probe_image``: image data that a header check cannot see is read and decoded enough.

PNG is streamed (CRCs, inflated size, row filters, Adam7), JPEG decoded at 1/8 scale or, past the coefficient
budget, walked marker by marker, WebP decoded or, past its bounds, checked chunk by chunk.
"""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zlib

import pytest
from avatar_local.samples import portrait_jpeg, portrait_png
from avatar_pipeline import imagecheck
from avatar_pipeline.capabilities import WAVESPEED_OMNIHUMAN_15, ProviderCapabilities
from avatar_pipeline.errors import InvalidMedia
from avatar_pipeline.imagecheck import sequential
from avatar_pipeline.jpegcheck import jpeg_structure_problem, read_jpeg_frame
from avatar_pipeline.pngcheck import ADAM7_PASSES, CorruptPng, check_png_data, row_spans
from avatar_pipeline.probe import ImageInfo, probe_image
from avatar_pipeline.webpcheck import webp_structure_problem
from PIL import Image

from tests.bombs import MIB, compressed_zeros

CAPS = WAVESPEED_OMNIHUMAN_15
ACCEPTS = "wavespeed/omnihuman-1.5 accepts jpeg, png, webp images it can read"
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def probe(data: bytes, name: str = "s3://b/alice.png", caps: ProviderCapabilities = CAPS) -> ImageInfo:
    return probe_image(name, io.BytesIO(data), len(data), caps)


def corrupt_cause(data: bytes, found: str, name: str = "s3://b/alice.png") -> str:
    """The parenthesised detail of a corrupt-data refusal, after checking the cause's fixed parts."""
    with pytest.raises(InvalidMedia) as caught:
        probe(data, name)
    cause = caught.value.cause
    prefix = f"image {name} looks like {found} but its image data is corrupt ("
    assert cause.startswith(prefix), cause
    assert cause.endswith(f"); {ACCEPTS}"), cause
    assert " at 0x" not in cause, "no Python object reprs in a user-facing cause"
    return cause[len(prefix) : -len(f"); {ACCEPTS}")]


def portrait(width: int = 200, height: int = 160, mode: str = "RGB") -> Image.Image:
    with Image.open(io.BytesIO(portrait_png(max(width, height)))) as drawn:
        return drawn.convert("RGB").resize((width, height)).convert(mode)


def encoded(picture: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rgb_png(width: int, height: int, rows: bytes, *, interlace: int = 0) -> bytes:
    """A PNG of 8-bit RGB whose IDAT is ``rows`` (filter bytes included) compressed, as given."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, interlace)
    return SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def adam7_png(picture: Image.Image, *, bad_filter_in_pass: int | None = None) -> bytes:
    """An interlaced PNG (Pillow writes none): each pass's rows, filter type 0, or 9 on one pass's first row."""
    width, height = picture.size
    pixels = picture.convert("RGB").tobytes()
    rows = bytearray()
    for number, (column, row, column_step, row_step) in enumerate(ADAM7_PASSES, start=1):
        columns = range(column, width, column_step)
        for y in range(row, height, row_step) if columns else ():
            rows.append(9 if number == bad_filter_in_pass and y == row else 0)
            for x in columns:
                rows += pixels[(y * width + x) * 3 : (y * width + x) * 3 + 3]
    return rgb_png(width, height, bytes(rows), interlace=1)


def replace_chunk(png: bytes, kind: bytes, data: bytes, *, fix_crc: bool = True) -> bytes:
    """``png`` with the first ``kind`` chunk's data replaced (its CRC recomputed unless ``fix_crc`` is False)."""
    start = png.index(kind) - 4
    length = int.from_bytes(png[start : start + 4], "big")
    crc = zlib.crc32(kind + data) if fix_crc else int.from_bytes(png[start + 8 + length : start + 12 + length], "big")
    return (
        png[:start] + struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc) + png[start + 12 + length :]
    )


def png_problem(data: bytes) -> str | None:
    try:
        check_png_data(io.BytesIO(data))
    except CorruptPng as error:
        return str(error)
    return None


# --- PNG ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16"])
def test_png_of_every_colour_type_passes(mode: str) -> None:
    picture = portrait(200, 160, "I" if mode == "I;16" else mode)
    assert probe(encoded(picture.convert(mode) if mode == "I;16" else picture, format="PNG")) == ImageInfo(
        "png", 200, 160
    )


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_palette_png_of_low_bit_depths_passes(bits: int) -> None:
    assert probe(encoded(portrait(203, 150, "P"), format="PNG", bits=bits)) == ImageInfo("png", 203, 150)


@pytest.mark.parametrize(("width", "height"), [(1, 1), (3, 2), (5, 9), (8, 8), (203, 150)])
def test_interlaced_png_passes_including_ones_with_empty_passes(width: int, height: int) -> None:
    picture = portrait(width, height)
    png = adam7_png(picture)
    with Image.open(io.BytesIO(png)) as decoded:  # the writer is right: Pillow reads the same pixels back
        assert decoded.convert("RGB").tobytes() == picture.tobytes()
    assert png_problem(png) is None


def test_interlaced_png_passes_the_probe() -> None:
    assert probe(adam7_png(portrait(203, 150))) == ImageInfo("png", 203, 150)


def test_adam7_passes_of_a_tiny_image_hold_only_the_pixels_there_are() -> None:
    # 3x2: passes 1 (1 px), 4 (1 px: column 2), 6 (1 px: column 1) and 7 (3 px on row 1); the rest are empty.
    spans = row_spans(3, 2, 24, interlaced=True)
    assert [(span.pass_number, span.end - span.start, span.stride) for span in spans] == [
        (1, 4, 4),
        (4, 4, 4),
        (6, 4, 4),
        (7, 10, 10),
    ]


def test_png_with_a_valid_header_and_garbage_image_data_is_refused() -> None:
    png = encoded(portrait(), format="PNG")
    garbage = random.Random(5).randbytes(2000)
    detail = corrupt_cause(replace_chunk(png, b"IDAT", garbage), "png")
    assert detail.startswith("its IDAT stream does not inflate: Error -3 while decompressing data"), detail


def test_png_with_a_flipped_byte_is_refused_by_its_crc() -> None:
    png = bytearray(encoded(portrait(), format="PNG"))
    start = png.index(b"IDAT")
    png[start + 100] ^= 0x01
    assert corrupt_cause(bytes(png), "png") == (
        f"the CRC of its IDAT chunk at byte {start - 4} does not match its content"
    )


def test_png_whose_header_declares_more_rows_than_its_data_holds_is_refused() -> None:
    png = encoded(portrait(200, 160), format="PNG")
    taller = replace_chunk(png, b"IHDR", struct.pack(">IIBBBBB", 200, 170, 8, 2, 0, 0, 0))
    assert corrupt_cause(taller, "png") == (
        f"its IDAT stream inflates to {160 * 601} bytes where its 200x170 header implies {170 * 601}"
    )


def test_png_whose_data_inflates_past_its_header_is_refused_without_inflating_it_all() -> None:
    # 100 MiB of zeros behind a 64x64 header: inflating stops one piece past the 12.3 KiB the header implies.
    png = rgb_png(64, 64, b"")
    png = replace_chunk(png, b"IDAT", compressed_zeros(100 * MIB, wbits=zlib.MAX_WBITS))
    tracemalloc.start()
    try:
        detail = corrupt_cause(png, "png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert detail == "its IDAT stream inflates to more than the 12352 bytes its 64x64 header implies"
    assert peak < 4 * MIB, peak


def test_png_row_with_an_undefined_filter_type_is_refused() -> None:
    rows = bytearray()
    for row in range(80):
        rows += bytes([7 if row == 33 else row % 5]) + bytes(64 * 3)
    assert corrupt_cause(rgb_png(64, 80, bytes(rows)), "png") == "row 33 starts with filter type 7; PNG defines 0 to 4"


def test_interlaced_png_row_with_an_undefined_filter_type_names_its_pass() -> None:
    png = adam7_png(portrait(100, 90), bad_filter_in_pass=4)
    assert corrupt_cause(png, "png") == "row 0 of Adam7 pass 4 starts with filter type 9; PNG defines 0 to 4"


def test_palette_png_without_a_palette_is_refused() -> None:
    png = encoded(portrait(100, 90, "P"), format="PNG")
    start = png.index(b"PLTE") - 4
    length = int.from_bytes(png[start : start + 4], "big")
    without_palette = png[:start] + png[start + 12 + length :]
    assert png_problem(without_palette) == ("it has no PLTE chunk before its image data, which its colour type needs")


def test_png_with_its_image_data_split_by_another_chunk_is_refused() -> None:
    rows = b"".join(b"\x00" + bytes(64 * 3) for _ in range(64))
    compressed = zlib.compress(rows)
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
    split = chunk(b"IDAT", compressed[:10]) + chunk(b"tEXt", b"a\x00b") + chunk(b"IDAT", compressed[10:])
    problem = png_problem(SIGNATURE + ihdr + split + chunk(b"IEND", b""))
    assert problem is not None
    assert problem.startswith("its IDAT chunks are not consecutive (another one at byte "), problem


def test_png_with_millions_of_pixels_is_checked_in_bounded_memory() -> None:
    side = 4000
    png = encoded(Image.frombuffer("RGB", (side, side), bytes(side * side * 3), "raw", "RGB", 0, 1), format="PNG")
    tracemalloc.start()
    try:
        assert png_problem(png) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MIB, f"{peak} bytes for a {side}x{side} image ({side * side * 3 / MIB:.0f} MiB of pixels)"


# --- JPEG -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "save",
    [
        {"quality": 90},
        {"quality": 90, "progressive": True},
        {"quality": 75, "subsampling": 0},
        {"quality": 75, "restart_marker_blocks": 4},
    ],
    ids=["baseline", "progressive", "4:4:4", "restart-markers"],
)
def test_valid_jpeg_is_decoded_and_its_structure_walks_clean(save: dict[str, object]) -> None:
    jpeg = encoded(portrait(203, 150), format="JPEG", **save)
    assert probe(jpeg, "s3://b/alice.jpg") == ImageInfo("jpeg", 203, 150)
    with sequential(io.BytesIO(jpeg)) as reader:
        assert jpeg_structure_problem(reader, len(jpeg)) is None


def test_grayscale_and_cmyk_jpeg_pass() -> None:
    for mode in ("L", "CMYK"):
        assert probe(encoded(portrait(200, 160, mode), format="JPEG"), "s3://b/a.jpg") == ImageInfo("jpeg", 200, 160)


def test_jpeg_with_garbage_in_its_scan_is_refused() -> None:
    jpeg = portrait_jpeg(512)
    start = jpeg.index(b"\xff\xda") + 600
    garbled = jpeg[:start] + random.Random(1).randbytes(4096) + jpeg[start + 4096 :]
    assert corrupt_cause(garbled, "jpeg", "s3://b/alice.jpg") == "broken data stream when reading image file"


def test_coefficients_libjpeg_buffers_are_counted_for_multi_scan_jpegs_only() -> None:
    baseline = encoded(portrait(200, 160), format="JPEG")
    progressive = encoded(portrait(200, 160), format="JPEG", progressive=True)
    assert read_jpeg_frame(io.BytesIO(baseline)) == read_jpeg_frame(io.BytesIO(baseline))
    frame = read_jpeg_frame(io.BytesIO(baseline))
    assert frame is not None
    assert (frame.width, frame.height, frame.buffered_coefficient_bytes) == (200, 160, 0)
    frame = read_jpeg_frame(io.BytesIO(progressive))
    assert frame is not None
    # 4:2:0: luma 25x20 blocks, each chroma plane 13x10 blocks; 64 two-byte coefficients a block.
    assert frame.buffered_coefficient_bytes == (25 * 20 + 2 * 13 * 10) * 128


def test_progressive_jpeg_over_the_coefficient_budget_is_walked_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imagecheck, "JPEG_COEFFICIENT_BUDGET_BYTES", 1000)
    monkeypatch.setattr(imagecheck, "_pillow_problem", lambda *_: pytest.fail("decoded"))
    progressive = encoded(portrait(203, 150), format="JPEG", progressive=True)
    assert probe(progressive, "s3://b/a.jpg") == ImageInfo("jpeg", 203, 150)
    start = progressive.rindex(b"\xff\xda") + 40
    garbled = progressive[:start] + b"\xff\x02" + progressive[start + 2 :]
    assert corrupt_cause(garbled, "jpeg", "s3://b/a.jpg").startswith("it ends, or has an invalid marker, inside scan")


def test_jpeg_structure_walk_refuses_restart_markers_out_of_order() -> None:
    jpeg = encoded(portrait(256, 256), format="JPEG", restart_marker_blocks=4)
    second = jpeg.index(b"\xff\xd1")
    swapped = jpeg[:second] + b"\xff\xd5" + jpeg[second + 2 :]
    with sequential(io.BytesIO(swapped)) as reader:
        assert jpeg_structure_problem(reader, len(swapped)) == "it ends, or has an invalid marker, inside scan 1"


def test_jpeg_structure_walk_refuses_a_stream_cut_inside_a_segment() -> None:
    jpeg = portrait_jpeg(128)
    cut = jpeg[: jpeg.index(b"\xff\xc4") + 10]
    with sequential(io.BytesIO(cut)) as reader:
        problem = jpeg_structure_problem(reader, len(cut))
    assert problem is not None
    assert problem.startswith("it ends inside the segment at byte"), problem


# --- WebP -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "save",
    [{"quality": 80}, {"lossless": True}, {"quality": 80, "xmp": b"<x/>"}],
    ids=["lossy", "lossless", "extended"],
)
def test_valid_webp_is_decoded_and_its_chunks_walk_clean(save: dict[str, object]) -> None:
    webp = encoded(portrait(200, 160), format="WEBP", **save)
    assert probe(webp, "s3://b/a.webp") == ImageInfo("webp", 200, 160)
    assert webp_structure_problem(io.BytesIO(webp), len(webp)) is None


def test_webp_with_garbage_image_data_is_refused() -> None:
    webp = encoded(portrait(200, 160), format="WEBP", quality=80)
    garbled = webp[:40] + random.Random(2).randbytes(len(webp) - 40)
    assert corrupt_cause(garbled, "webp", "s3://b/a.webp") == "failed to read next frame"


def test_webp_over_the_decode_bound_has_its_chunk_structure_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imagecheck, "WEBP_DECODE_MAX_PIXELS", 100)
    monkeypatch.setattr(imagecheck, "_pillow_problem", lambda *_: pytest.fail("decoded"))
    webp = encoded(portrait(200, 160), format="WEBP", quality=80, xmp=b"<x/>")
    assert webp[12:16] == b"VP8X"
    assert probe(webp, "s3://b/a.webp") == ImageInfo("webp", 200, 160)
    # The XMP chunk's size patched past the end of the RIFF data.
    xmp = webp.index(b"XMP ")
    patched = webp[: xmp + 4] + (len(webp)).to_bytes(4, "little") + webp[xmp + 8 :]
    assert corrupt_cause(patched, "webp", "s3://b/a.webp") == (
        f"chunk 'XMP ' at byte {xmp} runs past the end of the RIFF data"
    )


def test_webp_chunk_walk_needs_an_intact_image_chunk() -> None:
    webp = encoded(portrait(200, 160), format="WEBP", quality=80)
    no_start_code = webp[:23] + b"\x00\x00\x00" + webp[26:]
    assert (
        webp_structure_problem(io.BytesIO(no_start_code), len(webp))
        == "chunk 'VP8 ' at byte 12 has no VP8 key frame header"
    )
    metadata_only = b"RIFF" + (4 + 12).to_bytes(4, "little") + b"WEBP" + chunk_le(b"EXIF", b"Exif")
    assert webp_structure_problem(io.BytesIO(metadata_only), len(metadata_only)) == "no VP8 or VP8L image chunk"


def chunk_le(kind: bytes, data: bytes) -> bytes:
    return kind + len(data).to_bytes(4, "little") + data + b"\x00" * (len(data) & 1)
