"""The GB 45438 implicit label: MP4 metadata key ``AIGC`` in ``moov/udta/meta`` (``hdlr`` ``mdta``, ``keys``, ``ilst``).

FFmpeg's mov demuxer (so ffprobe and PyAV) reads an ``mdta`` meta inside ``udta`` as format tags, whatever other
``meta`` boxes (an iTunes ``mdir`` one with ``©too``) sit beside it. Writing the label:

- the first ``mdta`` meta in the first ``udta`` gets the key: its value replaced in place if it has one, else a key
  and an ``ilst`` item appended; every other key, item and ``udta`` child is kept byte for byte;
- with no ``mdta`` meta in ``udta``, one is appended as the last child of ``udta`` (created at the end of moov if
  there is none);
- any other ``AIGC`` key (``moov/meta``, another ``udta``) gets the same new value, so a reader never sees a stale one.
"""

from __future__ import annotations

import json
import struct

from avatar_pipeline.mp4_boxes import (
    MAX_MOOV_BYTES,
    Child,
    MalformedMp4,
    RangeReader,
    iter_boxes,
    make_box,
    make_full_box,
    read_box,
    read_layout,
)

AIGC_KEY = "AIGC"
_MDTA = b"mdta"
_UTF8 = 1  # the ``data`` atom's well-known type for UTF-8 text


def label_moov_children(moov_children: list[tuple[bytes, bytes]], label_json: str) -> list[tuple[bytes, bytes]]:
    """moov's children (type, whole box) with the label written; the caller re-wraps them in a ``moov`` box."""
    value = label_json.encode("utf-8")
    out: list[tuple[bytes, bytes]] = []
    labelled = False
    for box_type, box in moov_children:
        if box_type == b"meta" and _is_mdta(box):
            box = _rewrite_mdta_meta(box, value, add=False)
        elif box_type == b"udta":
            box = _rewrite_udta(box, value, add=not labelled)
            labelled = True
        out.append((box_type, box))
    if not labelled:
        out.append((b"udta", make_box(b"udta", _new_mdta_meta(value))))
    return out


def aigc_values(moov: bytes) -> list[str]:
    """Every ``AIGC`` value in ``moov/meta`` and ``moov/udta/meta``, in file order (FFmpeg keeps the last)."""
    found: list[str] = []
    outer = next(iter_boxes(moov))
    for child in iter_boxes(moov, outer.body, outer.end):
        box = moov[child.start : child.end]
        metas = [box] if child.type == b"meta" else _udta_metas(box) if child.type == b"udta" else []
        for meta in metas:
            if _is_mdta(meta):
                found.extend(_aigc_items(meta))
    return found


def read_aigc_label(read: RangeReader, file_size: int) -> dict[str, str] | None:
    """The parsed ``AIGC`` label of an MP4, or None when it has none; reads only box headers and moov."""
    layout = read_layout(read, file_size)
    values = aigc_values(read_box(read, layout.only("moov"), MAX_MOOV_BYTES))
    if not values:
        return None
    try:
        parsed = json.loads(values[-1])
    except json.JSONDecodeError as exc:
        raise MalformedMp4(f"the AIGC value is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise MalformedMp4(f"the AIGC value is JSON {type(parsed).__name__}, not an object")
    return {str(key): str(item) for key, item in parsed.items()}


def _meta_children(meta: bytes) -> tuple[bytes, list[Child]]:
    """meta's version and flags (four bytes in the ISO form, none in QuickTime's) and its children.

    QuickTime's ``meta`` has no version/flags; ISO's does. A full box starts its body with four zero bytes, a
    QuickTime one with its first child's (non-zero) size.
    """
    outer = next(iter_boxes(meta))
    first = outer.body + 4 if meta[outer.body : outer.body + 4] == b"\0\0\0\0" else outer.body
    return meta[outer.body : first], list(iter_boxes(meta, first, outer.end))


def _is_mdta(meta: bytes) -> bool:
    try:
        _, kids = _meta_children(meta)
    except MalformedMp4:
        return False
    return any(kid.type == b"hdlr" and meta[kid.body + 8 : kid.body + 12] == _MDTA for kid in kids)


def _udta_split(udta: bytes) -> tuple[list[Child], bytes]:
    """udta's children and the bytes after them (QuickTime may end a udta with a 32-bit zero terminator)."""
    outer = next(iter_boxes(udta))
    end = outer.end
    if end - outer.body >= 4 and udta[end - 4 : end] == b"\0\0\0\0":
        end -= 4
    return list(iter_boxes(udta, outer.body, end)), udta[end : outer.end]


def _udta_metas(udta: bytes) -> list[bytes]:
    return [udta[kid.start : kid.end] for kid in _udta_split(udta)[0] if kid.type == b"meta"]


def _rewrite_udta(udta: bytes, value: bytes, *, add: bool) -> bytes:
    kids, trailer = _udta_split(udta)
    parts: list[bytes] = []
    for kid in kids:
        box = udta[kid.start : kid.end]
        if kid.type == b"meta" and _is_mdta(box):
            box = _rewrite_mdta_meta(box, value, add=add)
            add = False
        parts.append(box)
    if add:
        parts.append(_new_mdta_meta(value))
    return make_box(b"udta", *parts, trailer)


def _new_mdta_meta(value: bytes) -> bytes:
    hdlr = make_full_box(b"hdlr", 0, 0, b"\0\0\0\0", _MDTA, b"\0" * 12, b"\0")
    keys = _keys_box([(_MDTA, AIGC_KEY.encode())])
    ilst = make_box(b"ilst", _item(1, value))
    return make_full_box(b"meta", 0, 0, hdlr, keys, ilst)


def _keys_box(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack(">I4s", 8 + len(name), namespace) + name for namespace, name in entries)
    return make_full_box(b"keys", 0, 0, struct.pack(">I", len(entries)), body)


def _parse_keys(keys: bytes, kid: Child) -> list[tuple[bytes, bytes]]:
    if kid.end - kid.body < 8:
        raise MalformedMp4("truncated keys box")
    count = struct.unpack_from(">I", keys, kid.body + 4)[0]
    entries: list[tuple[bytes, bytes]] = []
    offset = kid.body + 8
    for _ in range(count):
        if offset + 8 > kid.end:
            raise MalformedMp4(f"keys box declares {count} keys but holds {len(entries)}")
        size, namespace = struct.unpack_from(">I4s", keys, offset)
        if size < 8 or offset + size > kid.end:
            raise MalformedMp4(f"key entry of impossible size {size}")
        entries.append((namespace, keys[offset + 8 : offset + size]))
        offset += size
    return entries


def _item(index: int, value: bytes) -> bytes:
    return make_box(struct.pack(">I", index), make_box(b"data", struct.pack(">II", _UTF8, 0), value))


def _aigc_indexes(entries: list[tuple[bytes, bytes]]) -> set[int]:
    return {number for number, entry in enumerate(entries, start=1) if entry == (_MDTA, AIGC_KEY.encode())}


def _aigc_items(meta: bytes) -> list[str]:
    _, kids = _meta_children(meta)
    keys = next((kid for kid in kids if kid.type == b"keys"), None)
    indexes = _aigc_indexes(_parse_keys(meta, keys)) if keys else set()
    values: list[str] = []
    for ilst in (kid for kid in kids if kid.type == b"ilst"):
        for item in iter_boxes(meta, ilst.body, ilst.end):
            if int.from_bytes(item.type, "big") in indexes:
                values.extend(
                    meta[data.body + 8 : data.end].decode("utf-8", errors="replace")
                    for data in iter_boxes(meta, item.body, item.end)
                    if data.type == b"data"
                )
    return values


def _rewrite_mdta_meta(meta: bytes, value: bytes, *, add: bool) -> bytes:
    """The meta with every AIGC item's value replaced; with ``add``, a key and item appended when it has none."""
    version_flags, kids = _meta_children(meta)
    keys = next((kid for kid in kids if kid.type == b"keys"), None)
    entries = _parse_keys(meta, keys) if keys else []
    indexes = _aigc_indexes(entries)
    if not indexes and not add:
        return meta
    appended = not indexes
    if appended:
        entries.append((_MDTA, AIGC_KEY.encode()))
        indexes = {len(entries)}
    parts = [meta[kid.start : kid.end] for kid in kids]
    ilst_at = next((at for at, kid in enumerate(kids) if kid.type == b"ilst"), None)
    if ilst_at is None:
        parts.append(b"")
        ilst_at = len(parts) - 1
        items: list[Child] = []
    else:
        items = list(iter_boxes(meta, kids[ilst_at].body, kids[ilst_at].end))
    new_items: list[bytes] = []
    for item in items:
        index = int.from_bytes(item.type, "big")
        new_items.append(_item(index, value) if index in indexes else meta[item.start : item.end])
    if not any(int.from_bytes(item.type, "big") in indexes for item in items):
        new_items.append(_item(min(indexes), value))
    parts[ilst_at] = make_box(b"ilst", *new_items)
    if keys is None:
        parts.insert(ilst_at, _keys_box(entries))
    elif appended:
        parts[kids.index(keys)] = _keys_box(entries)
    return make_box(b"meta", version_flags, *parts)
