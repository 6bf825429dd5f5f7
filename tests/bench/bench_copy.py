"""Benchmark: the result copy (HTTP download streamed into S3 multipart) against the raw download, and the GETs of a
JPEG probe whose metadata comes first. One process serves a synthetic MP4 and a no-op S3 endpoint on 127.0.0.1;
the copy is ``stream_to_s3``, the function PersistResult calls. Peak RSS is measured in a child process that
imports the pipeline and does one copy (``VmHWM``), so it is the whole process: interpreter, boto3, httpx, copy.

    .venv/bin/python tests/bench/bench_copy.py [--mib 1024] [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
from avatar_pipeline.aws import S3_CONFIG
from avatar_pipeline.download import stream_to_s3
from avatar_pipeline.fetch import FetchPolicy
from avatar_pipeline.jpegcheck import read_jpeg_frame
from avatar_pipeline.models import S3Location
from avatar_pipeline.s3reader import BLOCK_BYTES, RangedS3Reader
from avatar_pipeline.transfer import Mp4BodyCheck
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from table import Row, render

MIB = 2**20
PATTERN = bytes(range(256)) * 4096  # 1 MiB of video-ish bytes, sent over and over
RSS_TARGET_MIB = 128
RATIO_TARGET = 0.8
GETS_TARGET = 3
TIMES = "\N{MULTIPLICATION SIGN}"


def mp4_head(total: int) -> bytes:
    """``ftyp``, a ``moov`` with its ``mvhd``, and the header of an ``mdat`` that runs to ``total`` bytes."""
    ftyp = (24).to_bytes(4, "big") + b"ftypisom" + b"\0\0\2\0" + b"isomiso2"
    mvhd = bytes(12) + (1000).to_bytes(4, "big") + (60_000).to_bytes(4, "big") + bytes(80)
    moov = (16 + len(mvhd)).to_bytes(4, "big") + b"moov" + (8 + len(mvhd)).to_bytes(4, "big") + b"mvhd" + mvhd
    return ftyp + moov + (total - len(ftyp) - len(moov)).to_bytes(4, "big") + b"mdat"


class MediaHandler(BaseHTTPRequestHandler):
    """``GET /<bytes>.mp4``: a valid MP4 of that many bytes, generated as it is sent."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as NoOpS3Handler: the MP4's head is a small write after the headers

    def do_GET(self) -> None:
        total = int(self.path.strip("/").removesuffix(".mp4"))
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        head = mp4_head(total)
        self.wfile.write(head)
        left = total - len(head)
        view = memoryview(PATTERN)
        while left > 0:
            self.wfile.write(view[: min(left, len(PATTERN))])
            left -= len(PATTERN)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class NoOpS3Handler(BaseHTTPRequestHandler):
    """Answers the S3 calls of a copy with valid XML and discards every body."""

    protocol_version = "HTTP/1.1"
    # The status line and headers go out in one write and the XML in another: with Nagle's algorithm the XML of
    # CreateMultipartUpload and CompleteMultipartUpload waited for the client's delayed ACK, 40 ms each, which
    # only the copy paid and S3 does not charge.
    disable_nagle_algorithm = True
    sink = bytearray(MIB)

    def _drain(self) -> None:
        left = int(self.headers.get("Content-Length") or 0)
        view = memoryview(self.sink)
        while left > 0:
            read = self.rfile.readinto(view[: min(left, len(view))])
            if not read:
                break
            left -= read

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"ETag": '"0123456789abcdef0123456789abcdef"', **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self._drain()
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        if "uploads" in query:
            result = "<InitiateMultipartUploadResult><UploadId>bench</UploadId></InitiateMultipartUploadResult>"
        else:
            result = "<CompleteMultipartUploadResult><ETag>&quot;x-1&quot;</ETag></CompleteMultipartUploadResult>"
        self._answer(200, f'<?xml version="1.0" encoding="UTF-8"?>{result}'.encode())

    def do_PUT(self) -> None:  # UploadPart, PutObject
        self._drain()
        self._answer(200)

    def do_DELETE(self) -> None:  # AbortMultipartUpload
        self._answer(204)

    def do_HEAD(self) -> None:
        self._answer(200, headers={"Content-Type": "video/mp4"})

    def log_message(self, format: str, *args: Any) -> None:
        return None


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def s3_client(endpoint: str) -> Any:
    """The pipeline's own S3 client settings (``aws.S3_CONFIG``), aimed at the no-op endpoint."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=S3_CONFIG,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def raw_transfer(url: str, endpoint: str, client: httpx.Client) -> None:
    """The line rate: the download streamed straight into the same endpoint in one PUT, nothing checked or hashed."""
    with client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
        length = response.headers["Content-Length"]
        put = client.put(f"{endpoint}/bench/raw.mp4", content=response.iter_raw(), headers={"Content-Length": length})
        put.raise_for_status()


def copy(url: str, client: httpx.Client, s3: Any) -> None:
    stream_to_s3(
        url,
        client=client,
        policy=FetchPolicy(allow_loopback=True),
        read_timeout_seconds=30.0,
        s3=s3,
        destination=S3Location(bucket="bench", key="result/video.mp4"),
        check=Mp4BodyCheck(),
        what="the video",
        content_type="video/mp4",
    )


def mib_per_second(run: Callable[[], None], mib: int) -> float:
    started = time.perf_counter()
    run()
    return mib / (time.perf_counter() - started)


def median_mib_per_second(run: Callable[[], None], mib: int, runs: int) -> float:
    return statistics.median(mib_per_second(run, mib) for _ in range(runs))


def timed(run: Callable[[], None], mib: int) -> tuple[float, float]:
    """MiB/s, and the CPU seconds per GiB this process spent on all its threads (user and system)."""
    cpu_before = os.times()
    rate = mib_per_second(run, mib)
    cpu_after = os.times()
    cpu = cpu_after.user - cpu_before.user + cpu_after.system - cpu_before.system
    return rate, cpu * 1024 / mib


def child_rates(url: str, endpoint: str, mib: int, runs: int) -> None:
    """Both sides keep their clients from run to run, as a Lambda container keeps its own (``container_client``,
    ``aws.s3``): what is timed is the transfer, not building a client."""
    raw: list[tuple[float, float]] = []
    copied: list[tuple[float, float]] = []
    with httpx.Client() as raw_client, httpx.Client() as copy_client:
        s3 = s3_client(endpoint)
        for turn in range(runs + 1):
            raw.append(timed(lambda: raw_transfer(url, endpoint, raw_client), mib))
            copied.append(timed(lambda: copy(url, copy_client, s3), mib))
            if turn == 0:
                raw.clear()
                copied.clear()
    medians = {
        f"{side}_{figure}": statistics.median(run[index] for run in runs_of_side)
        for side, runs_of_side in (("raw", raw), ("copy", copied))
        for index, figure in enumerate(("rate", "cpu"))
    }
    print(json.dumps(medians))


def vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def in_child(*arguments: str) -> Any:
    """What a child process of this script prints (JSON), run with the Lambda runtime's botocore: without the CRT.
    The runtime has no awscrt; where it is installed (sam's dependencies bring it here), botocore signs through it,
    and the CRT signer copies a bytearray body into a stream of its own, a copy the pipeline never pays on Lambda."""
    child = subprocess.run(
        [sys.executable, __file__, *arguments],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BOTO_DISABLE_CRT": "true"},
    )
    return json.loads(child.stdout)


def copy_rates(url: str, endpoint: str, mib: int, runs: int) -> dict[str, float]:
    """Median MiB/s and CPU seconds per GiB of the raw transfer and of the copy (``raw_rate``, ``copy_cpu``...),
    measured in turns in one child process, after one of each to warm up (imports, the server's threads, the
    kernel's socket buffers)."""
    figures: dict[str, float] = in_child("--child-rates", url, endpoint, str(mib), str(runs))
    return figures


def copy_peak_rss_mib(url: str, endpoint: str) -> tuple[float, float]:
    """Peak RSS of a child process doing one copy, and its RSS before the copy (imports done)."""
    figures = in_child("--child-copy", url, endpoint)
    return figures["peak_kib"] / 1024, figures["before_kib"] / 1024


def metadata_first_jpeg() -> bytes:
    """A 512x512 JPEG after 80 of the largest COM segments (about 5 MB of metadata)."""
    small = io.BytesIO()
    Image.new("RGB", (512, 512), (120, 90, 80)).save(small, format="JPEG")
    comment = b"\xff\xfe" + (0xFFFF).to_bytes(2, "big") + bytes(0xFFFD)
    return small.getvalue()[:2] + comment * 80 + small.getvalue()[2:]


class SlicingS3:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def get_object(self, *, Bucket: str, Key: str, Range: str) -> dict[str, Any]:
        start, end = (int(part) for part in Range.removeprefix("bytes=").split("-"))
        return {"Body": io.BytesIO(self.data[start : end + 1])}


def jpeg_probe_gets(**reader_options: int) -> int:
    """The ranged GETs of a JPEG probe's header walk (signature, then segment to segment up to the frame)."""
    data = metadata_first_jpeg()
    reader = RangedS3Reader(SlicingS3(data), S3Location(bucket="b", key="k"), len(data), **reader_options)  # type: ignore[arg-type]
    reader.read(16)
    frame = read_jpeg_frame(reader)  # type: ignore[arg-type]
    assert frame is not None
    assert (frame.width, frame.height) == (512, 512)
    return reader.requests


def rows(mib: int = 1024, runs: int = 5) -> list[Row]:
    # The servers run in a process of their own, as a provider's CDN and S3 do: in this one they would take the GIL
    # from the copy they are measuring.
    servers = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert servers.stdout is not None
        media_url, endpoint = json.loads(servers.stdout.readline())
        url = f"{media_url}/{mib * MIB}.mp4"
        figures = copy_rates(url, endpoint, mib, runs)
        peak, before = copy_peak_rss_mib(url, endpoint)
    finally:
        servers.kill()
        servers.wait()
    fixed, grown = jpeg_probe_gets(read_ahead_cap=BLOCK_BYTES), jpeg_probe_gets()
    size = f"{mib / 1024:g} GiB" if mib >= 1024 else f"{mib} MiB"
    # On a Lambda of up to one vCPU the copy is bound by its CPU: what it costs per GiB says more than loopback MiB/s.
    raw_cpu, copy_cpu = figures["raw_cpu"], figures["copy_cpu"]
    ratio = copy_cpu / raw_cpu
    print(f"copy: CPU per GiB, all threads: raw transfer {raw_cpu:.2f} s, copy {copy_cpu:.2f} s ({ratio:.2f}{TIMES})")
    return [
        throughput_row(
            f"{size} copy throughput vs raw transfer into the same no-op endpoint",
            figures["raw_rate"],
            figures["copy_rate"],
        ),
        Row(
            f"{size} copy peak RSS",
            f"≤ {RSS_TARGET_MIB} MiB",
            f"{before:.0f} MiB before the copy",
            f"{peak:.0f} MiB",
            "",
            peak <= RSS_TARGET_MIB,
        ),
        Row(
            "JPEG metadata-first probe GETs",
            f"≤ {GETS_TARGET}",
            f"{fixed} (fixed 8 KiB blocks)",
            str(grown),
            f"{grown / fixed:.2f}{TIMES}",
            grown <= GETS_TARGET,
        ),
    ]


def throughput_row(metric: str, raw: float, copied: float) -> Row:
    return Row(
        metric,
        f"≥ {RATIO_TARGET}{TIMES}",
        f"{raw:.0f} MiB/s",
        f"{copied:.0f} MiB/s",
        f"{copied / raw:.2f}{TIMES}",
        copied / raw >= RATIO_TARGET,
    )


def child_copy(url: str, endpoint: str) -> None:
    before = vm_kib("VmRSS")
    with httpx.Client() as client:
        copy(url, client, s3_client(endpoint))
    print(json.dumps({"before_kib": before, "peak_kib": vm_kib("VmHWM")}))


def main(argv: Iterator[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child-copy", nargs=2, metavar=("URL", "ENDPOINT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-rates", nargs=4, metavar=("URL", "ENDPOINT", "MIB", "RUNS"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(None if argv is None else list(argv))
    if args.serve:
        (_, media_url), (_, endpoint) = serve(MediaHandler), serve(NoOpS3Handler)
        print(json.dumps([media_url, endpoint]), flush=True)
        sys.stdin.read()  # until the benchmark ends
        return
    if args.child_copy:
        child_copy(*args.child_copy)
        return
    if args.child_rates:
        url, endpoint, mib, runs = args.child_rates
        child_rates(url, endpoint, int(mib), int(runs))
        return
    print(render(rows(args.mib, args.runs)))


if __name__ == "__main__":
    main()
