"""``RangedS3Reader``: small reads through cached 8 KiB blocks (more, read ahead, when they walk forward), a read
larger than a block in one ranged GET."""

from __future__ import annotations

import io
import random
from typing import Any

from avatar_pipeline.jpegcheck import read_jpeg_frame
from avatar_pipeline.models import S3Location
from avatar_pipeline.s3reader import BLOCK_BYTES, READ_AHEAD_CAP_BYTES, RangedS3Reader
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

DATA = random.Random(0).randbytes(5 * 1024 * 1024 + 123)


class FakeS3:
    """``get_object`` over one in-memory object, answering bounded ranges only, recording each one."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ranges: list[str] = []

    def get_object(self, *, Bucket: str, Key: str, Range: str) -> dict[str, Any]:
        self.ranges.append(Range)
        start, end = (int(part) for part in Range.removeprefix("bytes=").split("-"))
        return {"Body": io.BytesIO(self.data[start : end + 1])}


def reader_over(data: bytes, read_ahead_cap: int = READ_AHEAD_CAP_BYTES) -> tuple[RangedS3Reader, FakeS3]:
    s3 = FakeS3(data)
    location = S3Location(bucket="b", key="k")
    return RangedS3Reader(s3, location, len(data), read_ahead_cap=read_ahead_cap), s3  # type: ignore[arg-type]


def metadata_first_jpeg() -> bytes:
    """A 512x512 JPEG after 80 of the largest COM segments: about 5 MB to walk before the frame header."""
    small = io.BytesIO()
    Image.new("RGB", (512, 512), (120, 90, 80)).save(small, format="JPEG")
    comment = b"\xff\xfe" + (0xFFFF).to_bytes(2, "big") + bytes(0xFFFD)
    return small.getvalue()[:2] + comment * 80 + small.getvalue()[2:]


def test_small_reads_share_cached_blocks() -> None:
    reader, s3 = reader_over(DATA, read_ahead_cap=BLOCK_BYTES)
    assert reader.read(10) == DATA[:10]
    reader.seek(100)
    assert reader.read(20) == DATA[100:120]
    reader.seek(BLOCK_BYTES - 4)
    assert reader.read(8) == DATA[BLOCK_BYTES - 4 : BLOCK_BYTES + 4]
    assert s3.ranges == [f"bytes=0-{BLOCK_BYTES - 1}", f"bytes={BLOCK_BYTES}-{2 * BLOCK_BYTES - 1}"]
    assert (reader.requests, reader.bytes_fetched) == (2, 2 * BLOCK_BYTES)


def test_a_read_larger_than_a_block_is_one_get_of_exactly_that_span() -> None:
    reader, s3 = reader_over(DATA)
    reader.seek(1000)
    assert reader.read(3 * 1024 * 1024) == DATA[1000 : 1000 + 3 * 1024 * 1024]
    assert s3.ranges == [f"bytes=1000-{1000 + 3 * 1024 * 1024 - 1}"]
    assert (reader.requests, reader.bytes_fetched, reader.tell()) == (1, 3 * 1024 * 1024, 1000 + 3 * 1024 * 1024)


def test_a_large_read_stops_at_the_end_of_the_object() -> None:
    reader, s3 = reader_over(DATA)
    reader.seek(len(DATA) - 20_000)
    assert reader.read(1024 * 1024) == DATA[-20_000:]
    assert s3.ranges == [f"bytes={len(DATA) - 20_000}-{len(DATA) - 1}"]
    assert reader.read(1024 * 1024) == b""
    assert reader.requests == 1


def test_buffered_sequential_reading_is_one_get_per_buffer() -> None:
    reader, s3 = reader_over(DATA)
    buffered = io.BufferedReader(reader, 1024 * 1024)
    assert b"".join(iter(lambda: buffered.read(64 * 1024), b"")) == DATA
    assert len(s3.ranges) == 6, s3.ranges  # 5 MiB and a bit, in 1 MiB pieces
    assert reader.bytes_fetched == len(DATA)


def test_a_large_read_takes_cached_blocks_at_its_ends_from_the_cache() -> None:
    reader, s3 = reader_over(DATA)
    reader.read(100)  # the header block
    reader.seek(len(DATA) - 4096)
    reader.read(4096)  # the tail, in the last one or two blocks
    header_gets = len(s3.ranges)
    reader.seek(0)
    assert reader.read(len(DATA)) == DATA
    first_tail_block = (len(DATA) - 4096) // BLOCK_BYTES * BLOCK_BYTES
    assert s3.ranges[header_gets:] == [f"bytes={BLOCK_BYTES}-{first_tail_block - 1}"]
    assert reader.bytes_fetched == len(DATA), "every byte fetched once"


def test_a_large_read_inside_cached_blocks_needs_no_get() -> None:
    small = DATA[: 3 * BLOCK_BYTES - 5]
    reader, s3 = reader_over(small, read_ahead_cap=BLOCK_BYTES)
    for offset in range(0, len(small), BLOCK_BYTES):
        reader.seek(offset)
        reader.read(1)
    reader.seek(10)
    assert reader.read(len(small)) == small[10:]
    assert len(s3.ranges) == 3
    assert reader.bytes_fetched == len(small)


def test_a_small_read_past_the_last_block_reads_ahead_further_each_time() -> None:
    reader, s3 = reader_over(DATA)
    for offset in (0, BLOCK_BYTES, 9 * BLOCK_BYTES, 81 * BLOCK_BYTES):
        reader.seek(offset + 1)
        assert reader.read(4) == DATA[offset + 1 : offset + 5]
    assert s3.ranges == [
        f"bytes=0-{BLOCK_BYTES - 1}",
        f"bytes={BLOCK_BYTES}-{9 * BLOCK_BYTES - 1}",  # 8 times the 8 KiB walked so far
        f"bytes={9 * BLOCK_BYTES}-{81 * BLOCK_BYTES - 1}",
        f"bytes={81 * BLOCK_BYTES}-{len(DATA) - 1}",  # 8 x 648 KiB, cut at the end of the object
    ]


def test_a_small_read_far_from_the_last_is_one_block_again() -> None:
    reader, s3 = reader_over(DATA)
    for offset in (0, BLOCK_BYTES, 3 * 1024 * 1024, 3 * 1024 * 1024 + BLOCK_BYTES):
        reader.seek(offset)
        reader.read(1)
    assert s3.ranges[2:] == [
        f"bytes={3 * 1024 * 1024}-{3 * 1024 * 1024 + BLOCK_BYTES - 1}",
        f"bytes={3 * 1024 * 1024 + BLOCK_BYTES}-{3 * 1024 * 1024 + 9 * BLOCK_BYTES - 1}",
    ]


def test_a_jpeg_with_megabytes_of_metadata_first_is_walked_in_at_most_3_gets() -> None:
    data = metadata_first_jpeg()
    fixed, fixed_s3 = reader_over(data, read_ahead_cap=BLOCK_BYTES)
    reader, s3 = reader_over(data)
    for each in (fixed, reader):
        each.read(16)  # the signature
        frame = read_jpeg_frame(each)  # type: ignore[arg-type]
        assert frame is not None
        assert (frame.width, frame.height) == (512, 512)
    assert len(fixed_s3.ranges) == 81, "a block per segment"
    assert len(s3.ranges) <= 3, s3.ranges
    # The decode pass then reads the image once more, taking what the walk fetched from the cache.
    reader.seek(0)
    assert reader.read() == data
    assert reader.bytes_fetched == len(data), "every byte fetched once"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(st.tuples(st.integers(0, 40 * BLOCK_BYTES), st.integers(0, 12 * BLOCK_BYTES)), max_size=12),
    st.sampled_from([BLOCK_BYTES, READ_AHEAD_CAP_BYTES]),
)
def test_any_reads_return_what_the_object_holds(reads: list[tuple[int, int]], read_ahead_cap: int) -> None:
    data = DATA[: 37 * BLOCK_BYTES + 11]
    reader, _s3 = reader_over(data, read_ahead_cap)
    fetched_at_most = 0
    for offset, length in reads:
        reader.seek(offset)
        assert reader.read(length) == data[offset : offset + length]
        assert reader.tell() == max(offset, min(len(data), offset + length))
        fetched_at_most += length + 2 * BLOCK_BYTES
    # Reading ahead may fetch more than was read, but never a byte the cache holds: at most the object once more.
    assert reader.bytes_fetched <= fetched_at_most + (len(data) if read_ahead_cap > BLOCK_BYTES else 0)
