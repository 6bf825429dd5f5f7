"""Benchmark: streaming a result into S3 (multipart, bounded memory) against a read-it-all baseline,
in the same process, on moto. Prints figures and ratios; asserts nothing.

    .venv/bin/python tests/bench/bench_transfer.py [--mib 64]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
import tracemalloc
from collections.abc import Iterator

import boto3
from avatar_pipeline.transfer import copy_stream_to_s3
from moto import mock_aws

CHUNK = 256 * 1024


def synthetic_mp4(total: int) -> bytes:
    ftyp = (24).to_bytes(4, "big") + b"ftypisom" + b"\0\0\2\0" + b"isomiso2"
    moov_body = (108).to_bytes(4, "big") + b"mvhd" + bytes(4) + bytes(8) + (1000).to_bytes(4, "big")
    moov_body += (total // 1000).to_bytes(4, "big") + bytes(80)
    moov = (8 + len(moov_body)).to_bytes(4, "big") + b"moov" + moov_body
    mdat_size = total - len(ftyp) - len(moov)
    return (
        ftyp
        + moov
        + mdat_size.to_bytes(4, "big")
        + b"mdat"
        + os.urandom(1024) * ((mdat_size - 8) // 1024)
        + bytes((mdat_size - 8) % 1024)
    )


def chunks(body: bytes) -> Iterator[bytes]:
    view = memoryview(body)
    for offset in range(0, len(body), CHUNK):
        yield bytes(view[offset : offset + CHUNK])


def measure(label: str, run: object) -> tuple[float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    run()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  {label:<34}{seconds:8.3f} s   peak Python memory {peak / 2**20:8.1f} MiB")
    return seconds, peak


class DiscardingS3:
    """Accepts uploads and keeps only their size, so the figures are the copy's own memory, not moto's storage."""

    def __init__(self) -> None:
        self.stored = 0

    def create_multipart_upload(self, **kwargs: object) -> dict[str, str]:
        return {"UploadId": "bench"}

    def upload_part(self, Body: bytes, **kwargs: object) -> dict[str, str]:
        self.stored += len(Body)
        return {"ETag": hashlib.md5(Body, usedforsecurity=False).hexdigest()}

    def complete_multipart_upload(self, **kwargs: object) -> dict[str, str]:
        return {}

    def abort_multipart_upload(self, **kwargs: object) -> None:
        return None

    def put_object(self, Body: bytes, **kwargs: object) -> None:
        self.stored += len(Body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64)
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    body = synthetic_mp4(args.mib * 2**20)
    expected = hashlib.sha256(body).hexdigest()
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bench")

        def streamed() -> None:
            outcome = copy_stream_to_s3(
                chunks(body), s3=s3, bucket="bench", key="streamed.mp4", declared_length=len(body)
            )
            assert outcome.sha256 == expected

        def read_all() -> None:
            whole = b"".join(chunks(body))
            assert hashlib.sha256(whole).hexdigest() == expected
            s3.put_object(Bucket="bench", Key="whole.mp4", Body=whole)

        print(f"copying a {args.mib} MiB result into S3 on moto (in process): wall time")
        base_seconds, _ = measure("baseline: read all, one PUT", read_all)
        seconds, _ = measure("streamed multipart (8 MiB parts)", streamed)
        print(f"  time ratio streamed/baseline:   {seconds / base_seconds:6.2f}")

    sink = DiscardingS3()
    print(f"copying a {args.mib} MiB result into a discarding sink: memory held by the copy itself")
    _, base_peak = measure("baseline: read all, one PUT", lambda: sink.put_object(Body=b"".join(chunks(body))))
    _, peak = measure(
        "streamed multipart (8 MiB parts)",
        lambda: copy_stream_to_s3(chunks(body), s3=sink, bucket="b", key="k", declared_length=len(body)),  # type: ignore[arg-type]
    )
    print(f"  memory ratio streamed/baseline: {peak / base_peak:6.2f}")


if __name__ == "__main__":
    main()
