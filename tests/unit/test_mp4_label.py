"""The MP4 label plan on synthetic boxes: layouts, metadata merging, chunk-offset widening, refusals."""

import json
import struct
from collections.abc import Callable

import pytest
from avatar_pipeline.aigc import AigcLabel
from avatar_pipeline.aigc_label import aigc_values, read_aigc_label
from avatar_pipeline.mp4_boxes import (
    MAX_MOOV_BYTES,
    MalformedMp4,
    UnsupportedMp4Layout,
    iter_boxes,
    make_box,
    make_full_box,
    read_layout,
)
from avatar_pipeline.mp4_label_plan import Bytes, Copy, plan_label, prepare_label_plan

FTYP = make_box(b"ftyp", b"isom", b"\0\0\2\0", b"isom")
LABEL = AigcLabel(ContentProducer="生产者", ProduceID="job-1", ContentPropagator="p", PropagateID="q").as_json()
Reader = Callable[[int, int], bytes]


def _reader(data: bytes, calls: list[int] | None = None) -> Reader:
    """Reads ``data``, and zeros past its end (a large file whose media we never need to hold)."""

    def read(offset: int, length: int) -> bytes:
        if calls is not None:
            calls.append(length)
        chunk = data[offset : offset + length]
        return chunk + b"\0" * (length - len(chunk))

    return read


def _trak(kind: bytes, offsets: list[int]) -> bytes:
    code = "I" if kind == b"stco" else "Q"
    table = make_full_box(kind, 0, 0, struct.pack(f">I{len(offsets)}{code}", len(offsets), *offsets))
    return make_box(b"trak", make_box(b"mdia", make_box(b"minf", make_box(b"stbl", table))))


def _moov_first(children: list[bytes], mdat_size: int = 64) -> tuple[bytes, int]:
    """ftyp, moov, then an mdat (64-bit header) of ``mdat_size`` bytes: the head of the file and its full size."""
    moov = make_box(b"moov", *children)
    head = FTYP + moov + struct.pack(">I4sQ", 1, b"mdat", mdat_size)
    return head, len(FTYP) + len(moov) + mdat_size


def _new_moov(head: bytes, size: int, label: str = LABEL) -> bytes:
    plan = prepare_label_plan(_reader(head), size, label)
    moovs = [segment.data for segment in plan.segments if isinstance(segment, Bytes)]
    assert len(moovs) == 1
    return moovs[0]


def _tables(box: bytes) -> list[tuple[bytes, list[int]]]:
    found: list[tuple[bytes, list[int]]] = []
    outer = next(iter_boxes(box))
    for child in iter_boxes(box, outer.body, outer.end):
        inner = box[child.start : child.end]
        if child.type in (b"trak", b"mdia", b"minf", b"stbl"):
            found += _tables(inner)
        elif child.type in (b"stco", b"co64"):
            count = struct.unpack_from(">I", inner, 12)[0]
            code = "I" if child.type == b"stco" else "Q"
            found.append((child.type, list(struct.unpack_from(f">{count}{code}", inner, 16))))
    return found


def _children(box: bytes) -> list[bytes]:
    outer = next(iter_boxes(box))
    return [box[child.start : child.end] for child in iter_boxes(box, outer.body, outer.end)]


def _hdlr(handler: bytes) -> bytes:
    return make_full_box(b"hdlr", 0, 0, b"\0\0\0\0", handler, b"\0" * 12, b"\0")


def _keys(*names: bytes) -> bytes:
    entries = b"".join(struct.pack(">I4s", 8 + len(name), b"mdta") + name for name in names)
    return make_full_box(b"keys", 0, 0, struct.pack(">I", len(names)), entries)


def _item(index: int, text: str) -> bytes:
    return make_box(struct.pack(">I", index), make_box(b"data", struct.pack(">II", 1, 0), text.encode()))


# -- chunk offsets ---------------------------------------------------------------------------------------------------


def test_chunk_offsets_after_moov_move_by_its_growth_and_earlier_ones_stay() -> None:
    head, size = _moov_first([_trak(b"stco", [0, 40]), _trak(b"co64", [0, 8])])
    moov_end = len(head) - 16
    head, size = _moov_first([_trak(b"stco", [moov_end + 16, moov_end + 40]), _trak(b"co64", [moov_end + 16, 8])])
    new_moov = _new_moov(head, size)
    growth = len(new_moov) - (moov_end - len(FTYP))
    assert growth > len(LABEL)
    assert _tables(new_moov) == [
        (b"stco", [moov_end + 16 + growth, moov_end + 40 + growth]),
        (b"co64", [moov_end + 16 + growth, 8]),
    ]


def test_stco_that_would_overflow_becomes_co64_and_the_growth_settles_at_a_fixpoint() -> None:
    small = _moov_first([_trak(b"stco", [0]), _trak(b"stco", [0]), _trak(b"stco", [0, 0])])
    base_growth = prepare_label_plan(_reader(small[0]), small[1], LABEL).moov_growth
    moov_end = len(small[0]) - 16
    # B overflows at once; A only once B's widening has grown moov by 4 more bytes; C never does.
    a, b, c = 0xFFFFFFFF - base_growth - 1, 0xFFFFFFFF - base_growth + 1, moov_end + 16
    head, size = _moov_first([_trak(b"stco", [a]), _trak(b"stco", [b]), _trak(b"stco", [c, c + 1])], 0x1_0000_0100)
    plan = prepare_label_plan(_reader(head), size, LABEL)
    growth = base_growth + 8
    assert plan.moov_growth == growth
    new_moov = next(segment.data for segment in plan.segments if isinstance(segment, Bytes))
    assert _tables(new_moov) == [
        (b"co64", [a + growth]),
        (b"co64", [b + growth]),
        (b"stco", [c + growth, c + 1 + growth]),
    ]
    assert plan.size == size + growth
    assert plan.segments[-1] == Copy(moov_end, size)


def test_moov_last_keeps_every_offset_and_copies_all_before_it() -> None:
    mdat = make_box(b"mdat", b"x" * 100)
    moov = make_box(b"moov", _trak(b"stco", [len(FTYP) + 8]))
    data = FTYP + mdat + moov
    plan = prepare_label_plan(_reader(data), len(data), LABEL)
    assert plan.segments[0] == Copy(0, len(FTYP) + len(mdat))
    new_moov = plan.segments[1]
    assert isinstance(new_moov, Bytes)
    assert _tables(new_moov.data) == [(b"stco", [len(FTYP) + 8])]


# -- metadata ---------------------------------------------------------------------------------------------------------


def test_no_udta_gets_one_with_an_mdta_meta_holding_the_label() -> None:
    new_moov = _new_moov(*_moov_first([_trak(b"stco", [])]))
    udta = _children(new_moov)[-1]
    assert udta[4:8] == b"udta"
    meta = _children(udta)[0]
    assert meta[4:12] == b"meta\0\0\0\0"
    assert [kid.type for kid in iter_boxes(meta, 12)] == [b"hdlr", b"keys", b"ilst"]
    assert aigc_values(new_moov) == [LABEL]
    assert LABEL.encode("utf-8") in new_moov


def test_itunes_meta_and_other_udta_children_are_kept_and_an_mdta_meta_appended() -> None:
    mdir = make_full_box(b"meta", 0, 0, _hdlr(b"mdir"), make_box(b"ilst", make_box(b"\xa9too", b"data...")))
    title = make_box(b"\xa9nam", struct.pack(">HH", 2, 0), b"hi")
    new_moov = _new_moov(*_moov_first([make_box(b"udta", title, mdir)]))
    kids = _children(_children(new_moov)[0])
    assert kids[:2] == [title, mdir]
    assert aigc_values(new_moov) == [LABEL]


def test_an_mdta_meta_keeps_its_keys_and_items_and_gains_aigc_after_them() -> None:
    # QuickTime style: no version and flags after the meta header.
    meta = make_box(
        b"meta", _hdlr(b"mdta"), _keys(b"comment", b"title"), make_box(b"ilst", _item(1, "c"), _item(2, "t"))
    )
    new_moov = _new_moov(*_moov_first([make_box(b"udta", meta, b"\0\0\0\0")]))
    udta = _children(new_moov)[0]
    assert udta.endswith(b"\0\0\0\0")
    new_meta = next(iter_boxes(udta, 8))
    body = udta[new_meta.body : new_meta.end]
    assert body.startswith(_hdlr(b"mdta"))
    assert _keys(b"comment", b"title", b"AIGC") in body
    assert make_box(b"ilst", _item(1, "c"), _item(2, "t"), _item(3, LABEL)) in body


def test_a_stale_label_is_replaced_in_place_everywhere_never_duplicated() -> None:
    stale = '{"Label":"1","ContentProducer":"old"}'
    udta_meta = make_full_box(
        b"meta", 0, 0, _hdlr(b"mdta"), _keys(b"AIGC", b"comment"), make_box(b"ilst", _item(1, stale), _item(2, "c"))
    )
    moov_meta = make_full_box(b"meta", 0, 0, _hdlr(b"mdta"), _keys(b"AIGC"), make_box(b"ilst", _item(1, stale)))
    head, size = _moov_first([moov_meta, make_box(b"udta", udta_meta)])
    assert aigc_values(head[len(FTYP) :]) == [stale, stale]
    new_moov = _new_moov(head, size)
    assert aigc_values(new_moov) == [LABEL, LABEL]
    assert _item(2, "c") in new_moov
    twice = _new_moov(*_moov_first(_children(new_moov)), label=LABEL.replace("job-1", "job-2"))
    assert aigc_values(twice) == [LABEL.replace("job-1", "job-2")] * 2


def test_an_aigc_key_without_an_item_gets_one() -> None:
    meta = make_full_box(b"meta", 0, 0, _hdlr(b"mdta"), _keys(b"x", b"AIGC"), make_box(b"ilst", _item(1, "x")))
    new_moov = _new_moov(*_moov_first([make_box(b"udta", meta)]))
    assert make_box(b"ilst", _item(1, "x"), _item(2, LABEL)) in new_moov
    assert new_moov.count(b"AIGC") == 1


def test_label_json_has_the_seven_fields_in_order() -> None:
    parsed = json.loads(LABEL)
    assert list(parsed) == list(AigcLabel.model_fields)
    assert parsed["Label"] == "1"
    assert parsed["ContentProducer"] == "生产者"


def test_read_aigc_label() -> None:
    head, size = _moov_first([_trak(b"stco", [])])
    assert read_aigc_label(_reader(head), size) is None
    meta = make_full_box(b"meta", 0, 0, _hdlr(b"mdta"), _keys(b"AIGC"), make_box(b"ilst", _item(1, "not json")))
    head, size = _moov_first([make_box(b"udta", meta)])
    with pytest.raises(MalformedMp4, match="not JSON"):
        read_aigc_label(_reader(head), size)
    new_moov = _new_moov(*_moov_first([]))
    data = FTYP + new_moov
    assert read_aigc_label(_reader(data), len(data)) == json.loads(LABEL)


# -- layouts and refusals ---------------------------------------------------------------------------------------------


def test_layout_reads_headers_only_with_largesize_and_size_zero() -> None:
    head = (
        FTYP
        + make_box(b"moov", b"")
        + struct.pack(">I4sQ", 1, b"free", 24)
        + b"\0" * 8
        + struct.pack(">I4s", 0, b"mdat")
    )
    calls: list[int] = []
    layout = read_layout(_reader(head, calls), len(head) + 1000)
    assert [(box.type, box.size, box.header_size) for box in layout.boxes] == [
        ("ftyp", len(FTYP), 8),
        ("moov", 8, 8),
        ("free", 24, 16),
        ("mdat", 1008, 8),
    ]
    assert max(calls) == 16


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (FTYP + make_box(b"mdat", b"x"), "no 'moov' box"),
        (FTYP + make_box(b"moov", b"") + make_box(b"moov", b""), "2 'moov' boxes"),
        (FTYP + make_box(b"moov", b"")[:-1] + b"\0\0", "truncated box"),
        (FTYP + b"\0\0\0", "truncated box header"),
        (FTYP + struct.pack(">I4s", 4, b"moov"), "impossible size 4"),
        (FTYP + struct.pack(">I4sI", 1, b"moov", 0), "truncated 64-bit"),
        (b"", "empty file"),
        (FTYP + make_box(b"moov", struct.pack(">I4s", 99, b"trak")), "declares 99 bytes"),
    ],
)
def test_malformed_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(MalformedMp4, match=message):
        prepare_label_plan(lambda offset, length: data[offset : offset + length], len(data), LABEL)


def test_a_moov_beyond_the_cap_is_refused_without_reading_it() -> None:
    head = FTYP + struct.pack(">I4s", MAX_MOOV_BYTES + 9, b"moov")
    calls: list[int] = []
    with pytest.raises(MalformedMp4, match="more than the 67108864 bytes"):
        prepare_label_plan(_reader(head, calls), len(FTYP) + MAX_MOOV_BYTES + 9, LABEL)
    assert max(calls) <= 16


def test_sidx_before_moov_is_refused_when_boxes_follow_moov() -> None:
    sidx = make_full_box(b"sidx", 0, 0, b"\0" * 20)
    data = FTYP + sidx + make_box(b"moov", b"") + make_box(b"mdat", b"x")
    with pytest.raises(UnsupportedMp4Layout, match="sidx at offset"):
        prepare_label_plan(_reader(data), len(data), LABEL)


def test_saio_in_a_moov_trak_is_refused() -> None:
    saio = make_full_box(b"saio", 0, 0, struct.pack(">II", 1, 999))
    trak = make_box(b"trak", make_box(b"mdia", make_box(b"minf", make_box(b"stbl", saio))))
    with pytest.raises(UnsupportedMp4Layout, match="saio"):
        prepare_label_plan(_reader(_moov_first([trak])[0]), _moov_first([trak])[1], LABEL)


def test_a_chunk_offset_inside_moov_is_refused() -> None:
    head, size = _moov_first([_trak(b"stco", [len(FTYP) + 8])])
    with pytest.raises(UnsupportedMp4Layout, match="points inside moov"):
        prepare_label_plan(_reader(head), size, LABEL)


def test_plan_label_asks_for_the_fragment_boxes_it_must_patch() -> None:
    moof = make_box(b"moof", make_box(b"mfhd", b"\0" * 8))
    data = FTYP + make_box(b"moov", b"") + moof + make_box(b"mdat", b"x")
    layout = read_layout(_reader(data), len(data))
    with pytest.raises(ValueError, match="needs the bytes of the 'moof' box"):
        plan_label(layout, make_box(b"moov", b""), LABEL)
