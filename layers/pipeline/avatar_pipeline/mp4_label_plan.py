"""Plans the AIGC-labelled copy of an MP4 without re-encoding: the output as source ranges and new bytes.

A ``LabelPlan`` is an ordered list of segments; concatenated, they are the labelled file:

- ``Copy(start, end)``: the source's bytes ``[start, end)``, unchanged (media data: nearly all of the file). Adjacent
  copies are merged, so on S3 a large one is an ``UploadPartCopy`` with ``CopySourceRange=bytes=start-(end-1)``.
- ``Bytes(data)``: new bytes held in memory: the rewritten moov and, in a fragmented file, patched ``moof`` and
  ``mfra`` boxes (small). On S3 they go in ordinary ``UploadPart`` bodies, merged with neighbouring small copies
  since every part but the last must be at least 5 MiB.

moov gets the label (``aigc_label``). When it grows by ``growth`` bytes, every absolute file offset that pointed at
or past moov's old end moves by ``growth``: chunk offsets (``stco``, ``co64``, in every trak; a 32-bit ``stco`` that
would overflow becomes a ``co64``, which grows moov again, so this repeats to a fixpoint), ``tfhd`` base data
offsets in ``moof`` and ``tfra`` moof offsets in ``mfra``. Offsets relative to a moof (``trun``) or to a ``sidx``
after moov move with their box and are left alone. Refused with ``UnsupportedMp4Layout``: a ``sidx`` before a moov
that has boxes after it (its byte ranges would span the grown moov), ``saio`` in moov (absolute sample auxiliary
offsets, e.g. encrypted files), a chunk offset pointing inside moov.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from avatar_pipeline.aigc_label import label_moov_children
from avatar_pipeline.mp4_boxes import (
    MAX_MOOV_BYTES,
    MAX_PATCHED_BOX_BYTES,
    MalformedMp4,
    Mp4Layout,
    RangeReader,
    TopBox,
    UnsupportedMp4Layout,
    iter_boxes,
    make_box,
    make_full_box,
    read_box,
    read_layout,
)

_U32_MAX = 0xFFFFFFFF
_MAX_FIXPOINT_ROUNDS = 64
_TFHD_BASE_DATA_OFFSET = 0x000001
Shift = Callable[[int], int]


@dataclass(frozen=True)
class Copy:
    """The source's bytes ``[start, end)``."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Bytes:
    """New bytes, written as they are."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


Segment = Copy | Bytes


@dataclass(frozen=True)
class LabelPlan:
    segments: tuple[Segment, ...]
    source_size: int
    moov_growth: int

    @property
    def size(self) -> int:
        return sum(segment.size for segment in self.segments)


def boxes_to_patch(layout: Mp4Layout) -> tuple[TopBox, ...]:
    """The top-level boxes ``plan_label`` needs the bytes of besides moov: moof and mfra, when anything follows moov."""
    moov = layout.only("moov")
    if moov.end == layout.file_size:
        return ()
    return tuple(box for box in layout.boxes if box.type in ("moof", "mfra"))


def prepare_label_plan(read: RangeReader, file_size: int, label_json: str) -> LabelPlan:
    """Reads the box headers, moov and the boxes to patch through ``read``, and plans the labelled file."""
    layout = read_layout(read, file_size)
    moov = read_box(read, layout.only("moov"), MAX_MOOV_BYTES)
    patched = {box.offset: read_box(read, box, MAX_PATCHED_BOX_BYTES) for box in boxes_to_patch(layout)}
    return plan_label(layout, moov, label_json, patched)


def plan_label(
    layout: Mp4Layout, moov_bytes: bytes, label_json: str, box_bytes: Mapping[int, bytes] | None = None
) -> LabelPlan:
    """The labelled file as segments. ``box_bytes`` maps the offset of each box of ``boxes_to_patch`` to its bytes."""
    moov = layout.only("moov")
    if len(moov_bytes) != moov.size:
        raise MalformedMp4(f"moov is {moov.size} bytes in the layout but {len(moov_bytes)} were given")
    _refuse_unsupported(layout, moov)
    outer = next(iter_boxes(moov_bytes))
    children = [(c.type, moov_bytes[c.start : c.end]) for c in iter_boxes(moov_bytes, outer.body, outer.end)]
    new_moov, growth = _fixpoint(label_moov_children(children, label_json), moov)
    shift = _shifter(moov, growth)
    replaced: dict[int, bytes] = {moov.offset: new_moov}
    for box in boxes_to_patch(layout) if growth else ():
        if box_bytes is None or box.offset not in box_bytes:
            raise ValueError(f"plan_label needs the bytes of the {box.type!r} box at offset {box.offset}")
        original = box_bytes[box.offset]
        patched = _patch_moof(original, shift) if box.type == "moof" else _patch_mfra(original, shift)
        if patched != original:
            replaced[box.offset] = patched
    return LabelPlan(_segments(layout, replaced), layout.file_size, growth)


def _refuse_unsupported(layout: Mp4Layout, moov: TopBox) -> None:
    if moov.end == layout.file_size:
        return
    for box in layout.boxes:
        if box.type == "sidx" and box.offset < moov.offset:
            raise UnsupportedMp4Layout(
                f"sidx at offset {box.offset} comes before moov (offset {moov.offset}) with boxes after moov: "
                "its byte ranges would span the grown moov"
            )


def _segments(layout: Mp4Layout, replaced: Mapping[int, bytes]) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    for box in layout.boxes:
        if box.offset in replaced:
            segments.append(Bytes(replaced[box.offset]))
        elif segments and isinstance(segments[-1], Copy) and segments[-1].end == box.offset:
            segments[-1] = Copy(segments[-1].start, box.end)
        else:
            segments.append(Copy(box.offset, box.end))
    return tuple(segments)


def _shifter(moov: TopBox, growth: int) -> Shift:
    def shift(offset: int) -> int:
        if offset >= moov.end:
            return offset + growth
        if offset >= moov.offset and growth:
            raise UnsupportedMp4Layout(f"an absolute offset {offset} points inside moov ({moov.offset}-{moov.end})")
        return offset

    return shift


def _fixpoint(labelled: list[tuple[bytes, bytes]], moov: TopBox) -> tuple[bytes, int]:
    """moov rebuilt with shifted chunk offsets, and its growth, once the growth no longer changes."""
    widened: set[int] = set()
    growth = 0
    for _ in range(_MAX_FIXPOINT_ROUNDS):
        shift = _shifter(moov, growth)
        parts = [
            _rewrite_trak(box, shift, number, widened) if box_type == b"trak" else box
            for number, (box_type, box) in enumerate(labelled)
        ]
        new_moov = make_box(b"moov", *parts)
        if len(new_moov) - moov.size == growth:
            return new_moov, growth
        growth = len(new_moov) - moov.size
    raise UnsupportedMp4Layout(f"moov's size did not settle after {_MAX_FIXPOINT_ROUNDS} rounds of offset rewriting")


_TRAK_PATH = {b"trak": b"mdia", b"mdia": b"minf", b"minf": b"stbl"}


def _rewrite_trak(box: bytes, shift: Shift, number: int, widened: set[int]) -> bytes:
    """trak (or mdia, minf, stbl below it) with its chunk offsets shifted; ``widened`` holds traks needing co64."""
    outer = next(iter_boxes(box))
    parts: list[bytes] = []
    for child in iter_boxes(box, outer.body, outer.end):
        data = box[child.start : child.end]
        if _TRAK_PATH.get(outer.type) == child.type:
            data = _rewrite_trak(data, shift, number, widened)
        elif outer.type == b"stbl" and child.type in (b"stco", b"co64"):
            data = _chunk_offsets(data, child.type, shift, number, widened)
        elif outer.type == b"stbl" and child.type == b"saio":
            raise UnsupportedMp4Layout("saio (absolute sample auxiliary information offsets) in a moov trak")
        parts.append(data)
    return make_box(outer.type, *parts)


def _chunk_offsets(box: bytes, box_type: bytes, shift: Shift, number: int, widened: set[int]) -> bytes:
    if len(box) < 16:
        raise MalformedMp4(f"truncated {box_type.decode()} box")
    count = struct.unpack_from(">I", box, 12)[0]
    width = "I" if box_type == b"stco" else "Q"
    if len(box) < 16 + count * struct.calcsize(width):
        raise MalformedMp4(f"{box_type.decode()} declares {count} chunk offsets but is {len(box)} bytes")
    offsets = [shift(offset) for offset in struct.unpack_from(f">{count}{width}", box, 16)]
    if width == "I" and offsets and max(offsets) > _U32_MAX:
        widened.add(number)
    if width == "I" and number not in widened:
        return make_full_box(b"stco", 0, 0, struct.pack(f">I{count}I", count, *offsets))
    return make_full_box(b"co64", 0, 0, struct.pack(f">I{count}Q", count, *offsets))


def _patch_moof(moof: bytes, shift: Shift) -> bytes:
    """The moof with each tfhd's base data offset (when present) shifted, in place."""
    out = bytearray(moof)
    outer = next(iter_boxes(moof))
    for traf in iter_boxes(moof, outer.body, outer.end):
        if traf.type != b"traf":
            continue
        for tfhd in iter_boxes(moof, traf.body, traf.end):
            if tfhd.type == b"tfhd" and moof[tfhd.body + 3] & _TFHD_BASE_DATA_OFFSET:
                if tfhd.end - tfhd.body < 16:
                    raise MalformedMp4("tfhd flags a base data offset it does not hold")
                base = struct.unpack_from(">Q", moof, tfhd.body + 8)[0]
                struct.pack_into(">Q", out, tfhd.body + 8, shift(base))
    return bytes(out)


def _patch_mfra(mfra: bytes, shift: Shift) -> bytes:
    """The mfra with every tfra entry's moof offset shifted, in place."""
    out = bytearray(mfra)
    outer = next(iter_boxes(mfra))
    for tfra in iter_boxes(mfra, outer.body, outer.end):
        if tfra.type != b"tfra":
            continue
        version = mfra[tfra.body]
        lengths, count = struct.unpack_from(">II", mfra, tfra.body + 8)
        width = 8 if version == 1 else 4
        entry = 2 * width + sum(((lengths >> bits) & 3) + 1 for bits in (4, 2, 0))
        offset = tfra.body + 16
        if offset + count * entry > tfra.end:
            raise MalformedMp4(f"tfra declares {count} entries but is {tfra.end - tfra.start} bytes")
        for at in range(offset + width, offset + count * entry, entry):
            moved = shift(int.from_bytes(mfra[at : at + width], "big"))
            if moved >= 1 << (8 * width):
                raise UnsupportedMp4Layout(f"a version-0 tfra moof offset would overflow 32 bits ({moved})")
            out[at : at + width] = moved.to_bytes(width, "big")
    return bytes(out)
