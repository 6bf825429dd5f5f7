"""The AIGC label written into every MP4 layout a provider may return, read back by FFmpeg (PyAV), streams intact."""

import io
import json
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from avatar_local.simulator.mp4_variants import (
    STALE_AIGC,
    VARIANTS,
    WITH_UDTA_COMMENT,
    WITH_UDTA_TITLE,
    variant,
)
from avatar_pipeline.aigc import AigcLabel
from avatar_pipeline.aigc_label import aigc_values, read_aigc_label
from avatar_pipeline.mp4_boxes import MAX_MOOV_BYTES, iter_boxes, read_box, read_layout
from avatar_pipeline.mp4_label_apply import apply_plan, label_file
from avatar_pipeline.mp4_label_plan import Bytes, Copy, prepare_label_plan

LABEL = AigcLabel(
    ContentProducer="Acme Avatars",
    ProduceID="alice-3f9a1c2e",
    ContentPropagator="Acme Media",
    PropagateID="prop-42",
    ReservedCode1="r1",
).as_json()
EXPECTED = {
    "Label": "1",
    "ContentProducer": "Acme Avatars",
    "ProduceID": "alice-3f9a1c2e",
    "ReservedCode1": "r1",
    "ContentPropagator": "Acme Media",
    "PropagateID": "prop-42",
    "ReservedCode2": "",
}


def _reader(data: bytes) -> Callable[[int, int], bytes]:
    return lambda offset, length: data[offset : offset + length]


def _label(data: bytes, label_json: str = LABEL) -> bytes:
    read = _reader(data)
    plan = prepare_label_plan(read, len(data), label_json)
    out = bytearray()
    assert apply_plan(plan, read, out.extend) == plan.size == len(out)
    return bytes(out)


def _packets(data: bytes) -> list[tuple[int, int | None, int | None, bool, bytes]]:
    with av.open(io.BytesIO(data)) as container:
        return [(p.stream_index, p.pts, p.dts, p.is_keyframe, bytes(p)) for p in container.demux() if p.size]


def _shape(data: bytes) -> tuple[int | None, list[tuple[str, int | None, int]], int]:
    with av.open(io.BytesIO(data)) as container:
        streams = [(s.type, s.duration, s.frames) for s in container.streams]
        duration = container.duration
    with av.open(io.BytesIO(data)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    return duration, streams, decoded


def _metadata(data: bytes) -> dict[str, str]:
    with av.open(io.BytesIO(data)) as container:
        return dict(container.metadata)


def _moov(data: bytes) -> bytes:
    read = _reader(data)
    return read_box(read, read_layout(read, len(data)).only("moov"), MAX_MOOV_BYTES)


@pytest.mark.parametrize("name", VARIANTS)
def test_label_reads_back_through_ffmpeg_with_streams_unchanged(name: str) -> None:
    source = variant(name)
    labelled = _label(source)
    assert json.loads(_metadata(labelled)["AIGC"]) == EXPECTED
    assert list(EXPECTED) == list(AigcLabel.model_fields)
    assert read_aigc_label(_reader(labelled), len(labelled)) == EXPECTED
    # FFmpeg found it where the contract puts it: moov/udta/meta (there is no moov-level meta).
    moov = _moov(labelled)
    tops = {moov[box.start + 4 : box.start + 8]: moov[box.start : box.end] for box in iter_boxes(moov, 8)}
    assert b"meta" not in tops
    assert b"AIGC" in tops[b"udta"]
    assert _shape(labelled) == _shape(source)
    assert _shape(source)[2] == 12
    assert _packets(labelled) == _packets(source)


@pytest.mark.parametrize("name", VARIANTS)
def test_labelling_twice_keeps_one_aigc_with_the_new_value(name: str) -> None:
    once = _label(variant(name))
    newer = LABEL.replace("alice-3f9a1c2e", "alice-second")
    twice = _label(once, newer)
    assert aigc_values(_moov(twice)) == [newer]
    assert json.loads(_metadata(twice)["AIGC"])["ProduceID"] == "alice-second"
    assert len(twice) == len(once) + len(newer.encode()) - len(LABEL.encode())
    assert _packets(twice) == _packets(variant(name))


def test_other_udta_metadata_survives_and_the_stale_label_is_replaced_in_place() -> None:
    source = variant("with_udta")
    before = _metadata(source)
    assert before["AIGC"] == STALE_AIGC
    assert aigc_values(_moov(source)) == [STALE_AIGC]
    labelled = _label(source)
    after = _metadata(labelled)
    assert after["title"] == WITH_UDTA_TITLE
    assert after["comment"] == WITH_UDTA_COMMENT
    assert after["encoder"] == before["encoder"]
    assert aigc_values(_moov(labelled)) == [LABEL]
    # Replaced in place: the moov grew by exactly the difference between the two values.
    assert len(labelled) - len(source) == len(LABEL.encode()) - len(STALE_AIGC.encode())


@pytest.mark.parametrize("name", ["moov_last", "fragmented"])
def test_the_encoders_itunes_meta_is_kept_beside_the_label(name: str) -> None:
    source = variant(name)
    assert "AIGC" not in _metadata(source)
    assert _metadata(_label(source))["encoder"] == _metadata(source)["encoder"]


@pytest.mark.parametrize(
    ("name", "patched"),
    [("moov_last", 0), ("moov_first", 0), ("co64", 0), ("fragmented", 4), ("fragmented_moof_base", 1)],
)
def test_plan_shape_copies_media_and_patches_only_absolute_fragment_offsets(name: str, patched: int) -> None:
    source = variant(name)
    plan = prepare_label_plan(_reader(source), len(source), LABEL)
    new_boxes = [segment for segment in plan.segments if isinstance(segment, Bytes)]
    assert len(new_boxes) == 1 + patched  # the moov, then the moofs and mfra whose offsets moved
    mdat_bytes = sum(segment.size for segment in plan.segments if isinstance(segment, Copy))
    assert mdat_bytes > len(source) // 2
    assert plan.size == len(source) + plan.moov_growth


def _tfra_moof_offsets(data: bytes) -> list[int]:
    """Every moof offset the mfra's tfra boxes hold (version 1: 64-bit time and offset, then three 1-byte numbers)."""
    mfra = data[data.rindex(b"mfra") - 4 :]
    offsets, at = [], mfra.index(b"tfra") - 4
    while mfra[at + 4 : at + 8] == b"tfra":
        size, version, count = int.from_bytes(mfra[at : at + 4], "big"), mfra[at + 8], mfra[at + 20 : at + 24]
        assert version == 1
        assert mfra[at + 16 : at + 20] == b"\0\0\0\0"  # 1-byte traf, trun and sample numbers
        for entry in range(int.from_bytes(count, "big")):
            start = at + 24 + entry * 19 + 8
            offsets.append(int.from_bytes(mfra[start : start + 8], "big"))
        at += size
    return offsets


@pytest.mark.parametrize("name", ["fragmented", "fragmented_moof_base"])
def test_mfra_still_points_at_every_moof(name: str) -> None:
    labelled = _label(variant(name))
    layout = read_layout(_reader(labelled), len(labelled))
    moofs = {box.offset for box in layout.boxes if box.type == "moof"}
    offsets = _tfra_moof_offsets(labelled)
    assert offsets
    assert set(offsets) <= moofs
    assert set(_tfra_moof_offsets(variant(name))) != set(offsets)


class _CountingReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []

    def __call__(self, offset: int, length: int) -> bytes:
        self.calls.append((offset, length))
        return self.data[offset : offset + length]


@pytest.mark.parametrize("name", ["moov_last", "moov_first", "co64", "with_udta"])
def test_memory_planning_reads_headers_and_moov_applying_reads_in_buffer_sized_ranges(name: str) -> None:
    source = variant(name)
    reader = _CountingReader(source)
    plan = prepare_label_plan(reader, len(source), LABEL)
    moov_size = len(_moov(source))
    boxes = len(read_layout(_reader(source), len(source)).boxes)
    assert sorted(length for _, length in reader.calls)[-1] == moov_size
    assert sum(length for _, length in reader.calls) <= moov_size + 16 * boxes
    reader.calls.clear()
    out = bytearray()
    apply_plan(plan, reader, out.extend, buffer_size=512)
    assert max(length for _, length in reader.calls) <= 512
    assert sum(length for _, length in reader.calls) == len(source) - moov_size
    assert _packets(bytes(out)) == _packets(source)


def test_memory_fragmented_planning_also_reads_the_moofs_and_mfra_only() -> None:
    source = variant("fragmented")
    reader = _CountingReader(source)
    prepare_label_plan(reader, len(source), LABEL)
    layout = read_layout(_reader(source), len(source))
    whole = {box.offset: box.size for box in layout.boxes if box.type in ("moov", "moof", "mfra")}
    assert {offset: length for offset, length in reader.calls if length > 16} == whole


def test_label_file_writes_a_new_file_and_refuses_its_own_source(tmp_path: Path) -> None:
    source = tmp_path / "in.mp4"
    source.write_bytes(variant("moov_first"))
    target = tmp_path / "out.mp4"
    plan = label_file(source, target, LABEL)
    assert target.stat().st_size == plan.size
    with av.open(str(target)) as container:
        assert json.loads(container.metadata["AIGC"]) == EXPECTED
    assert {path.name for path in tmp_path.iterdir()} == {"in.mp4", "out.mp4"}
    with pytest.raises(ValueError, match="onto itself"):
        label_file(source, source, LABEL)
    assert source.read_bytes() == variant("moov_first")
