"""Benchmark: writing the AIGC label into a staged video, S3 to S3 (``label_staged_video``: moov read with ranged
GETs, the media streamed through and uploaded in parts) against a pass through ``/tmp`` (download the staged file,
label it there with ``label_file``, upload it), and against the raw line rate (one GET streamed into one PUT).
A server process plays S3: it serves a synthetic moov-first MP4 at any byte range and discards what is uploaded.

    .venv/bin/python tests/bench/bench_label.py [--mib 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from avatar_pipeline.aigc import AigcLabel
from avatar_pipeline.labelling import label_staged_video
from avatar_pipeline.mp4_label_apply import label_file
from avatar_pipeline.transfer import Mp4BodyCheck, copy_stream_to_s3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_copy import MIB, PATTERN, TIMES, NoOpS3Handler, median_mib_per_second, mp4_head, s3_client, serve
from table import Row, render

BUCKET = "bench"
LABEL = AigcLabel(ContentProducer="bench", ProduceID="bench-job", ContentPropagator="bench").as_json()
RANGE = re.compile(r"bytes=(\d+)-(\d*)")
# The baseline (through /tmp) uploads its file in 1 MiB reads.
STREAM_CHUNK_BYTES = 1024 * 1024


class StagedVideoS3Handler(NoOpS3Handler):
    """``GET``/``HEAD /bench/staged-<bytes>.mp4`` (with ``Range``): a moov-first MP4 of that size, made as it is
    sent; every other call is the no-op endpoint's."""

    def _staged_size(self) -> int | None:
        found = re.search(r"/staged-(\d+)\.mp4", self.path)
        return int(found.group(1)) if found else None

    def do_HEAD(self) -> None:
        size = self._staged_size()
        if size is None:
            super().do_HEAD()
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.send_header("ETag", '"staged"')
        self.end_headers()

    def do_GET(self) -> None:
        size = self._staged_size()
        assert size is not None, self.path
        wanted = RANGE.fullmatch(self.headers.get("Range", "")) or None
        start, end = (
            (int(wanted.group(1)), min(int(wanted.group(2) or size - 1), size - 1)) if wanted else (0, size - 1)
        )
        self.send_response(206 if wanted else 200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(end - start + 1))
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("ETag", '"staged"')
        self.end_headers()
        for chunk in _staged_bytes(size, start, end + 1):
            self.wfile.write(chunk)


def _staged_bytes(size: int, start: int, end: int) -> Iterator[bytes]:
    head = mp4_head(size)
    if start < len(head):
        yield head[start : min(end, len(head))]
        start = len(head)
    while start < end:
        offset = (start - len(head)) % len(PATTERN)
        take = min(end - start, len(PATTERN) - offset)
        yield PATTERN[offset : offset + take]
        start += take


def raw_transfer(endpoint: str, key: str) -> None:
    with httpx.Client() as client, client.stream("GET", f"{endpoint}/{BUCKET}/{key}") as response:
        length = response.headers["Content-Length"]
        put = client.put(
            f"{endpoint}/{BUCKET}/raw.mp4", content=response.iter_raw(), headers={"Content-Length": length}
        )
        put.raise_for_status()


def s3_to_s3(endpoint: str, key: str) -> None:
    label_staged_video(s3_client(endpoint), BUCKET, key, "out/video.mp4", LABEL)


def through_tmp(endpoint: str, key: str) -> None:
    s3 = s3_client(endpoint)
    with tempfile.TemporaryDirectory(prefix="bench-label-") as folder:
        staged, labelled = Path(folder) / "staged.mp4", Path(folder) / "labelled.mp4"
        s3.download_file(BUCKET, key, str(staged))
        label_file(staged, labelled, LABEL)
        staged.unlink()
        with labelled.open("rb") as file:
            chunks = iter(lambda: file.read(STREAM_CHUNK_BYTES), b"")
            copy_stream_to_s3(
                chunks,
                s3=s3,
                bucket=BUCKET,
                key="out/video.mp4",
                declared_length=labelled.stat().st_size,
                check=Mp4BodyCheck(),
            )


def rows(mib: int = 1024, runs: int = 3) -> list[Row]:
    servers = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert servers.stdout is not None
        endpoint = json.loads(servers.stdout.readline())
        key = f"staged-{mib * MIB}.mp4"
        raw = median_mib_per_second(lambda: raw_transfer(endpoint, key), mib, runs)
        direct = median_mib_per_second(lambda: s3_to_s3(endpoint, key), mib, runs)
        local = median_mib_per_second(lambda: through_tmp(endpoint, key), mib, runs)
    finally:
        servers.kill()
        servers.wait()
    size = f"{mib / 1024:g} GiB" if mib >= 1024 else f"{mib} MiB"
    return [
        Row(
            f"{size} labelling S3 to S3 vs through /tmp",
            f"≥ 1{TIMES}",
            f"{local:.0f} MiB/s",
            f"{direct:.0f} MiB/s",
            f"{direct / local:.2f}{TIMES}",
            direct >= local,
        ),
        Row(
            f"{size} labelling S3 to S3 vs raw transfer",
            "(measured)",
            f"{raw:.0f} MiB/s",
            f"{direct:.0f} MiB/s",
            f"{direct / raw:.2f}{TIMES}",
            True,
        ),
    ]


def main(argv: Iterator[str] | None = None) -> Any:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(None if argv is None else list(argv))
    if args.serve:
        _, endpoint = serve(StagedVideoS3Handler)
        print(json.dumps(endpoint), flush=True)
        sys.stdin.read()
        return
    print(render(rows(args.mib, args.runs)))


if __name__ == "__main__":
    main()
