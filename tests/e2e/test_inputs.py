"""Inputs a user can trust, end to end: pair drops start exactly once, and a corpus of broken and awkward
inputs each reaches the expected terminal state with a readable cause, before anything is submitted."""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import av
import numpy as np
import pytest
from avatar_local.samples import portrait_jpeg, portrait_png, speech_audio
from PIL import Image

from .conftest import Stack

pytestmark = pytest.mark.e2e


def _executions_mentioning(stack: Stack, marker: str) -> list[str]:
    sfn = stack.client("stepfunctions")
    forms = {marker, json.dumps(marker)[1:-1]}
    found = []
    for execution in sfn.list_executions(stateMachineArn=stack.info["state_machine_arn"])["executions"]:
        execution_input = sfn.describe_execution(executionArn=execution["executionArn"]).get("input", "")
        if any(form in execution_input for form in forms):
            found.append(str(execution["executionArn"]))
    return found


def _multipart_put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=body)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )


def test_pair_drop_starts_one_job_when_both_files_arrive_together(stack: Stack) -> None:
    s3, bucket = stack.client("s3"), stack.info["input_bucket"]
    stem = f"drop/Pair {uuid.uuid4().hex[:6]}"
    uploads = [
        threading.Thread(
            target=s3.put_object, kwargs={"Bucket": bucket, "Key": f"{stem}.PNG", "Body": portrait_png(320)}
        ),
        threading.Thread(target=_multipart_put, args=(s3, bucket, f"{stem}.Mp3", speech_audio(2.5, fmt="mp3"))),
    ]
    for upload in uploads:
        upload.start()
    for upload in uploads:
        upload.join()

    deadline = time.monotonic() + 30
    while not (executions := _executions_mentioning(stack, stem)) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert executions, "the pair started no execution"
    described = stack.wait_until_done(executions[0])
    time.sleep(1)

    assert described["status"] == "SUCCEEDED", described
    assert len(_executions_mentioning(stack, stem)) == 1
    assert len(stack.submissions(stem)) == 1
    output = json.loads(described["output"])
    assert re.fullmatch(r"pair-[0-9a-f]{6}-[0-9a-f]{8}", output["job_id"]), "the stem, readable, and a hash"


def test_a_lone_dropped_file_starts_nothing(stack: Stack) -> None:
    stem = f"drop/lonely-{uuid.uuid4().hex[:6]}"
    stack.client("s3").put_object(Bucket=stack.info["input_bucket"], Key=f"{stem}.jpg", Body=portrait_jpeg(320))
    time.sleep(3)
    assert _executions_mentioning(stack, stem) == []


def _png_of(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 150, 120)).save(buffer, "PNG")
    return buffer.getvalue()


def _png_with_garbage_data(png: bytes) -> bytes:
    """The same PNG with its first IDAT's compressed data replaced by noise, CRC recomputed: the header, the
    dimensions and the end marker are all valid; only decoding finds out."""
    start = png.index(b"IDAT") - 4
    length = int.from_bytes(png[start : start + 4], "big")
    noise = random.Random(7).randbytes(length)
    crc = zlib.crc32(b"IDAT" + noise).to_bytes(4, "big")
    return png[: start + 8] + noise + crc + png[start + 12 + length :]


def _wav_claiming_forever(wav: bytes) -> bytes:
    """The data chunk's size set to 0xFFFFFFFF: at 96 kB/s (48 kHz, 16-bit mono) a header claiming 44,739 s."""
    at = wav.index(b"data") + 4
    return wav[:at] + b"\xff\xff\xff\xff" + wav[at + 4 :]


def _adts_aac(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        samples = np.zeros((1, round(seconds * 16000)), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


CORPUS: list[tuple[str, Callable[[], bytes], Callable[[], bytes], str, str | None, str]] = [
    # (case, image bytes, audio bytes, provider, expected error or None for success, expected words in the cause)
    ("zero-byte image", lambda: b"", lambda: speech_audio(2.5), "wavespeed/omnihuman-1.5", "InvalidMedia", "empty"),
    (
        "png renamed mp3",
        lambda: portrait_png(320),
        lambda: portrait_png(320),
        "wavespeed/omnihuman-1.5",
        "InvalidMedia",
        "is a png image, not audio",
    ),
    (
        "truncated jpeg",
        lambda: portrait_jpeg(320)[:-400],
        lambda: speech_audio(2.5),
        "wavespeed/omnihuman-1.5",
        "InvalidMedia",
        "truncated JPEG",
    ),
    (
        "1x1 image",
        lambda: _png_of(1, 1),
        lambda: speech_audio(2.5),
        "wavespeed/omnihuman-1.5",
        "InvalidMedia",
        "1x1 px",
    ),
    (
        "10:1 image for kling",
        lambda: _png_of(3000, 300),
        lambda: speech_audio(2.5),
        "kling/avatar",
        "InvalidMedia",
        "aspect ratio of 10.00:1",
    ),
    (
        "8 kHz mono audio",
        lambda: portrait_png(320),
        lambda: speech_audio(2.5, sample_rate=8000),
        "wavespeed/omnihuman-1.5",
        None,
        "",
    ),
    (
        "png whose image data is garbage behind a valid header",
        lambda: _png_with_garbage_data(portrait_png(320)),
        lambda: speech_audio(2.5),
        "wavespeed/omnihuman-1.5",
        "InvalidMedia",
        "image data is corrupt",
    ),
    (
        "wav whose header claims 44,739 s over a 48 KB body",
        lambda: portrait_png(320),
        lambda: _wav_claiming_forever(speech_audio(0.5, sample_rate=48000)),
        "wavespeed/omnihuman-1.5",
        "InvalidMedia",
        "header claims 44739",
    ),
    (
        "400 s ADTS AAC for hunyuan's 120 s",
        lambda: portrait_png(320),
        lambda: _adts_aac(400.0),
        "wavespeed/hunyuan-avatar",
        "InvalidMedia",
        "accepts under 120 s",
    ),
    (
        "audio too short for kling",
        lambda: portrait_png(320),
        lambda: speech_audio(1.0),
        "kling/avatar",
        "InvalidMedia",
        "needs at least 2 s",
    ),
]


@pytest.mark.parametrize(("case", "image", "audio", "provider", "error", "words"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_case_reaches_its_terminal_state(
    stack: Stack,
    case: str,
    image: Callable[[], bytes],
    audio: Callable[[], bytes],
    provider: str,
    error: str | None,
    words: str,
) -> None:
    s3, bucket = stack.client("s3"), stack.info["input_bucket"]
    folder = f"jobs/corpus {uuid.uuid4().hex[:6]} +ü"
    s3.put_object(Bucket=bucket, Key=f"{folder}/face image.png", Body=image())
    s3.put_object(
        Bucket=bucket,
        Key=f"{folder}/voice+track.mp3" if case == "png renamed mp3" else f"{folder}/voice+track.wav",
        Body=audio(),
    )
    audio_name = "voice+track.mp3" if case == "png renamed mp3" else "voice+track.wav"
    manifest = {"provider": provider, "image": "face image.png", "audio": audio_name}
    key = f"{folder}/job.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())

    described = stack.wait_until_done(stack.wait_for_execution(key))

    if error is None:
        assert described["status"] == "SUCCEEDED", described
        return
    assert described["status"] == "FAILED", described
    assert described["error"] == error
    assert words in described["cause"]
    assert folder in described["cause"], "the cause names the file"
    assert stack.submissions(folder) == [], "nothing reached the provider"
