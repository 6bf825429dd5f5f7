"""Tiny MP4s in the layouts a provider may return, made at run time (never committed), to label and serve.

One short clip (64x64, 12 frames of H.264, AAC mono) muxed by FFmpeg (PyAV) in each layout:

- ``moov_last``: mdat, then moov (FFmpeg's default);
- ``moov_first``: moov before mdat (``faststart``), so a growing moov moves every chunk;
- ``co64``: ``moov_first`` with every ``stco`` rewritten as a ``co64`` (64-bit chunk offsets);
- ``fragmented``: ``frag_keyframe+empty_moov``: moov with ``mvex``, moof/mdat pairs whose ``tfhd`` carries absolute
  base data offsets, and an ``mfra`` whose ``tfra`` holds absolute moof offsets;
- ``fragmented_moof_base``: the same with ``default_base_moof`` (offsets relative to each moof);
- ``with_udta``: ``moov_first`` whose udta holds a QuickTime ``©nam`` (title) and an ``mdta`` meta with the keys
  ``AIGC`` (a stale label), ``comment`` and ``encoder``.
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import av
import numpy as np
from avatar_pipeline.mp4_boxes import iter_boxes, make_box

VARIANTS = ("moov_last", "moov_first", "co64", "fragmented", "fragmented_moof_base", "with_udta")
FRAMES = 12
FPS = 12
SIDE = 64
SAMPLE_RATE = 8000
STALE_AIGC = json.dumps({"Label": "1", "ContentProducer": "stale", "ProduceID": "old-job"})
WITH_UDTA_TITLE = "with-udta title"
WITH_UDTA_COMMENT = "keep this comment"
_MOVFLAGS = {
    "moov_last": "",
    "moov_first": "faststart",
    "co64": "faststart",
    "fragmented": "frag_keyframe+empty_moov",
    "fragmented_moof_base": "frag_keyframe+empty_moov+default_base_moof",
    "with_udta": "faststart+use_metadata_tags",
}
OffsetTable = tuple[bytes, list[int]]


def variant(name: str) -> bytes:
    """The clip in layout ``name`` (one of ``VARIANTS``); made once per process."""
    if name not in VARIANTS:
        raise KeyError(f"unknown MP4 variant {name!r}; known: {', '.join(VARIANTS)}")
    return _made(name)


@cache
def _made(name: str) -> bytes:
    return relayout(_encode(), name)


def relayout(data: bytes, name: str) -> bytes:
    """``data``, an MP4, in layout ``name``: its packets muxed again (never re-encoded), then rewritten if need be."""
    if name not in VARIANTS:
        raise KeyError(f"unknown MP4 variant {name!r}; known: {', '.join(VARIANTS)}")
    metadata = {"AIGC": STALE_AIGC, "comment": WITH_UDTA_COMMENT} if name == "with_udta" else {}
    muxed = _remux(data, _MOVFLAGS[name], metadata)
    if name == "co64":
        return _rewrite_moov(muxed, _widen_chunk_offsets, lambda children: children)
    if name == "with_udta":
        return _rewrite_moov(muxed, lambda table: table, _add_title)
    return muxed


def _remux(data: bytes, movflags: str, metadata: dict[str, str]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="mp4-variant-") as workdir:
        path = Path(workdir) / "clip.mp4"
        options = {"movflags": movflags} if movflags else {}
        with av.open(io.BytesIO(data), "r") as source, av.open(str(path), "w", format="mp4", options=options) as target:
            target.metadata.update(metadata)
            streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
            for packet in source.demux():
                if packet.dts is None:
                    continue  # the demuxer's end-of-stream marker
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
        return path.read_bytes()


def _encode() -> bytes:
    with tempfile.TemporaryDirectory(prefix="mp4-variant-") as workdir:
        path = Path(workdir) / "clip.mp4"
        with av.open(str(path), "w", format="mp4") as container:
            video = container.add_stream("libx264", rate=FPS, options={"g": "4", "preset": "ultrafast"})
            video.width = video.height = SIDE
            video.pix_fmt = "yuv420p"
            audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
            samples = SAMPLE_RATE // FPS
            for index in range(FRAMES):
                picture = np.full((SIDE, SIDE, 3), index * 20, dtype=np.uint8)
                picture[:, : index * 4] = 255
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = index
                container.mux(video.encode(frame))
                tone = np.sin(np.arange(samples, dtype=np.float32) * (0.05 + index / 100)).reshape(1, -1)
                sound = av.AudioFrame.from_ndarray(tone.astype(np.float32), format="fltp", layout="mono")
                sound.sample_rate = SAMPLE_RATE
                sound.pts = index * samples
                container.mux(audio.encode(sound))
            container.mux(video.encode(None))
            container.mux(audio.encode(None))
        return path.read_bytes()


def _rewrite_moov(
    data: bytes, table: Callable[[OffsetTable], OffsetTable], udta: Callable[[list[bytes]], list[bytes]]
) -> bytes:
    """``data`` with moov's chunk-offset tables and udta children rewritten, media moved by moov's growth.

    An independent, deliberately plain rewriter (the labeller's own is what the tests check).
    """
    moov = next(box for box in iter_boxes(data) if box.type == b"moov")
    media_after = any(box.start >= moov.end for box in iter_boxes(data))
    resized = _moov_with(data[moov.start : moov.end], table, udta, 0)
    growth = len(resized) - (moov.end - moov.start) if media_after else 0
    new_moov = _moov_with(data[moov.start : moov.end], table, udta, growth)
    return data[: moov.start] + new_moov + data[moov.end :]


def _moov_with(
    moov: bytes, table: Callable[[OffsetTable], OffsetTable], udta: Callable[[list[bytes]], list[bytes]], growth: int
) -> bytes:
    def walk(box: bytes) -> bytes:
        outer = next(iter_boxes(box))
        parts = []
        for child in iter_boxes(box, outer.body, outer.end):
            inner = box[child.start : child.end]
            if child.type in (b"trak", b"mdia", b"minf", b"stbl"):
                inner = walk(inner)
            elif child.type == b"udta" and outer.type == b"moov":
                kids = [inner[kid.start : kid.end] for kid in iter_boxes(inner, 8)]
                inner = make_box(b"udta", *udta(kids))
            elif child.type in (b"stco", b"co64"):
                kind, offsets = table(_offset_table(inner))
                code = "I" if kind == b"stco" else "Q"
                moved = [offset + growth for offset in offsets]
                inner = make_box(kind, struct.pack(f">II{len(moved)}{code}", 0, len(moved), *moved))
            parts.append(inner)
        return make_box(outer.type, *parts)

    return walk(moov)


def _offset_table(box: bytes) -> OffsetTable:
    kind = box[4:8]
    count = struct.unpack_from(">I", box, 12)[0]
    return kind, list(struct.unpack_from(f">{count}{'I' if kind == b'stco' else 'Q'}", box, 16))


def _widen_chunk_offsets(table: OffsetTable) -> OffsetTable:
    return b"co64", table[1]


def _add_title(children: list[bytes]) -> list[bytes]:
    text = WITH_UDTA_TITLE.encode()
    return [make_box(b"\xa9nam", struct.pack(">HH", len(text), 0x55C4), text), *children]
