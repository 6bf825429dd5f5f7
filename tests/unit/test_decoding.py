"""``decoding``: content codings undone in bounded memory; codings and bodies that cannot be decoded refused."""

import gzip
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from avatar_pipeline.decoding import CHUNK_BYTES, content_coding, decoded
from avatar_pipeline.transfer import BadBody

from tests.bombs import MIB, compressed_zeros

BODY = bytes(range(256)) * 4096  # 1 MiB


def pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def decode(data: bytes, coding: str, size: int = 64 * 1024) -> bytes:
    return b"".join(decoded(pieces(data, size), coding, what="image https://cdn.example.test/a.png"))


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        (None, None),
        ("", None),
        ("identity", None),
        ("gzip", "gzip"),
        ("GZip ", "gzip"),
        ("x-gzip", "gzip"),
        ("deflate", "deflate"),
        ("identity, gzip", "gzip"),
    ],
)
def test_content_coding_names_the_one_coding_to_undo(header: str | None, coding: str | None) -> None:
    assert content_coding(header, what="the video") == coding


@pytest.mark.parametrize("header", ["br", "zstd", "compress", "gzip, gzip", "deflate, gzip"])
def test_other_or_stacked_codings_are_refused(header: str) -> None:
    with pytest.raises(BadBody) as caught:
        content_coding(header, what="the video")
    assert str(caught.value) == f"the video came with Content-Encoding {header!r}; only gzip or deflate is decoded"


@pytest.mark.parametrize("size", [1, 7, 64 * 1024])
def test_gzip_is_decoded_whatever_the_chunking(size: int) -> None:
    assert decode(gzip.compress(BODY), "gzip", size) == BODY


def test_a_multi_member_gzip_body_is_decoded_whole() -> None:
    assert decode(gzip.compress(BODY[:1000]) + gzip.compress(BODY[1000:]), "gzip", 333) == BODY


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_is_decoded_wrapped_or_raw(wbits: int) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    assert decode(compressor.compress(BODY) + compressor.flush(), "deflate") == BODY


def test_an_empty_coded_body_is_empty() -> None:
    assert decode(b"", "gzip") == b""


@pytest.mark.parametrize(
    ("data", "coding", "message"),
    [
        (BODY[:5000], "gzip", "is not valid gzip data (Error -3 while decompressing data: incorrect header check)"),
        (gzip.compress(BODY)[:-100], "gzip", "is cut off: its gzip stream does not end"),
        (gzip.compress(BODY) + b"<html>", "gzip", "is not valid gzip data (Error -3 while decompressing data: "),
        (zlib.compress(BODY) + b"trailer", "deflate", "has data after the end of its deflate stream"),
    ],
    ids=["not-gzip", "cut-off", "garbage-after-gzip", "data-after-deflate"],
)
def test_a_body_that_is_not_what_its_coding_says_is_a_bad_body(data: bytes, coding: str, message: str) -> None:
    with pytest.raises(BadBody) as caught:
        decode(data, coding)
    assert str(caught.value).startswith(f"image https://cdn.example.test/a.png {message}")


def test_a_gzip_bomb_is_inflated_a_piece_at_a_time_in_bounded_memory() -> None:
    bomb = compressed_zeros(256 * MIB)
    print(f"\n256 MiB of zeros gzip to {len(bomb) / 1024:.0f} KiB (1:{256 * MIB // len(bomb)})")
    tracemalloc.start()
    try:
        largest = total = 0
        for piece in decoded(pieces(bomb), "gzip", what="x"):
            largest, total = max(largest, len(piece)), total + len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"inflating all of it: peak Python memory {peak / MIB:.2f} MiB, largest piece {largest // 1024} KiB")
    assert total == 256 * MIB
    assert largest == CHUNK_BYTES
    assert peak < 4 * MIB
