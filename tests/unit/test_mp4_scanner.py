"""``Mp4Scanner``: streamed verification of a real MP4, whatever the chunking."""

import struct

import pytest
from avatar_pipeline.mp4 import Mp4Scanner


def _scan(data: bytes, chunk: int | None) -> Mp4Scanner:
    scanner = Mp4Scanner()
    step = chunk or max(len(data), 1)
    for start in range(0, len(data), step):
        scanner.feed(data[start : start + step])
    return scanner


def _top_level_boxes(data: bytes) -> list[tuple[str, int, int]]:
    boxes, offset = [], 0
    while offset < len(data):
        size = struct.unpack(">I", data[offset : offset + 4])[0]
        boxes.append((data[offset + 4 : offset + 8].decode("latin-1"), offset, size))
        offset += size
    return boxes


@pytest.mark.parametrize("chunk", [1, 7, 4096, None], ids=["1", "7", "4096", "whole"])
def test_complete_mp4_in_any_chunking(talking_mp4: bytes, chunk: int | None) -> None:
    scanner = _scan(talking_mp4, chunk)
    assert scanner.first_box == "ftyp"
    assert scanner.malformed is None
    assert scanner.complete is True
    assert scanner.duration_seconds == pytest.approx(2.0, abs=0.1)


def test_the_rendered_mp4_has_moov_and_mdat(talking_mp4: bytes) -> None:
    names = [name for name, _, _ in _top_level_boxes(talking_mp4)]
    assert names[0] == "ftyp"
    assert {"moov", "mdat"} <= set(names)


@pytest.mark.parametrize("chunk", [1, 7, 4096, None], ids=["1", "7", "4096", "whole"])
@pytest.mark.parametrize("cut", [1, 4, 100, 2])
def test_truncated_mp4_is_incomplete(talking_mp4: bytes, chunk: int | None, cut: int) -> None:
    body = talking_mp4[: len(talking_mp4) - cut] if cut != 2 else talking_mp4[: len(talking_mp4) // 2]
    scanner = _scan(body, chunk)
    assert scanner.first_box == "ftyp"
    assert scanner.complete is False


def test_cut_inside_a_box_header_is_incomplete(talking_mp4: bytes) -> None:
    _, offset, _ = _top_level_boxes(talking_mp4)[1]
    scanner = _scan(talking_mp4[: offset + 5], 7)
    assert scanner.complete is False


def test_cut_exactly_on_a_box_boundary_is_complete_but_may_lack_duration(talking_mp4: bytes) -> None:
    _, offset, size = _top_level_boxes(talking_mp4)[0]
    scanner = _scan(talking_mp4[: offset + size], 3)
    assert scanner.complete is True
    assert scanner.duration_seconds is None


def test_trailing_free_box_keeps_it_complete(talking_mp4: bytes) -> None:
    padded = talking_mp4 + struct.pack(">I", 8 + 1000) + b"free" + bytes(1000)
    scanner = _scan(padded, 4096)
    assert scanner.complete is True
    assert scanner.duration_seconds == pytest.approx(2.0, abs=0.1)


def test_trailing_garbage_is_not_complete(talking_mp4: bytes) -> None:
    scanner = _scan(talking_mp4 + b"\x00\x00\x01", 4096)
    assert scanner.complete is False


@pytest.mark.parametrize(
    ("data", "first"),
    [
        (b"<!DOCTYPE html><html><body>expired</body></html>", "CTYP"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "\r\n\x1a\n"),
        (struct.pack(">I", 16) + b"mdat" + bytes(8), "mdat"),
    ],
    ids=["html", "png", "mdat-first"],
)
def test_non_mp4_first_box_is_reported(data: bytes, first: str) -> None:
    scanner = _scan(data, 5)
    assert scanner.first_box == first
    assert scanner.first_box != "ftyp"


@pytest.mark.parametrize(("size", "reason"), [(4, "impossible size 4"), (1, "64-bit box sizes")])
def test_malformed_box_sizes(size: int, reason: str) -> None:
    scanner = _scan(struct.pack(">I", size) + b"ftyp" + bytes(32), 3)
    assert scanner.malformed is not None
    assert reason in scanner.malformed
    assert scanner.complete is False


def test_box_running_to_end_of_file_is_never_complete() -> None:
    scanner = _scan(struct.pack(">I", 0) + b"ftyp" + bytes(32), 8)
    assert scanner.first_box == "ftyp"
    assert scanner.complete is False


def test_version_1_mvhd_duration() -> None:
    mvhd_body = b"\x01\x00\x00\x00" + bytes(16) + struct.pack(">IQ", 1000, 3500) + bytes(80)
    mvhd = struct.pack(">I", 8 + len(mvhd_body)) + b"mvhd" + mvhd_body
    moov = struct.pack(">I", 8 + len(mvhd)) + b"moov" + mvhd
    ftyp = struct.pack(">I", 16) + b"ftypisom" + bytes(4)
    scanner = _scan(ftyp + moov, 1)
    assert scanner.complete is True
    assert scanner.duration_seconds == 3.5
