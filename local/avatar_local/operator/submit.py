"""``avatar-pipeline submit`` (one job from local files or URIs) and ``batch FILE`` (a CSV or JSONL batch).

Local files are uploaded under ``uploads/<sha256 prefix>/`` of the input bucket, so the same file is stored once.
Without ``--job-id``, the id is the image's stem plus a short hash of the request, the way manifests' ids are
derived (``alice-3f9a1c2e``): submitting the same files and options again is the same job, and costs nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import posixpath
import re
from pathlib import Path
from typing import Any

from avatar_pipeline.batches import batch_ref
from avatar_pipeline.capabilities import CAPABILITIES

from .executions import start_job
from .render import Output
from .target import OperatorStack, UsageError

REMOTE = ("s3://", "https://", "http://")
BATCH_SUFFIXES = (".csv", ".jsonl")
MEDIA_FIELDS = ("image", "audio")
_SLUG = re.compile(r"[^a-z0-9]+")


def parse_option(pair: str) -> tuple[str, Any]:
    name, separator, value = pair.partition("=")
    if not separator or not name:
        raise UsageError(f"--option expects NAME=VALUE, got {pair!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def upload(stack: OperatorStack, path_or_uri: str, what: str) -> str:
    """An s3:// or http(s):// input as given; a local file uploaded, as its s3:// URI."""
    if path_or_uri.startswith(REMOTE):
        return path_or_uri
    path = Path(path_or_uri)
    if not path.is_file():
        raise UsageError(f"--{what}: no such file {path_or_uri}")
    body = path.read_bytes()
    key = f"uploads/{hashlib.sha256(body).hexdigest()[:16]}/{path.name}"
    stack.client("s3").put_object(Bucket=stack.input_bucket, Key=key, Body=body)
    return f"s3://{stack.input_bucket}/{key}"


def job_request(
    stack: OperatorStack,
    *,
    image: str,
    audio: str,
    provider: str | None,
    prompt: str | None,
    options: list[str],
    job_id: str | None,
) -> dict[str, Any]:
    if provider is not None and provider not in CAPABILITIES:
        raise UsageError(f"--provider expects one of {', '.join(sorted(CAPABILITIES))}, got {provider!r}")
    request: dict[str, Any] = {"image": upload(stack, image, "image"), "audio": upload(stack, audio, "audio")}
    if provider:
        request["provider"] = provider
    if prompt:
        request["prompt"] = prompt
    if options:
        request["options"] = dict(parse_option(pair) for pair in options)
    stem = _SLUG.sub("-", posixpath.basename(image).rsplit(".", 1)[0].lower()).strip("-") or "job"
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:8]
    request["job_id"] = job_id or f"{stem[:40]}-{digest}"
    return request


def submit(stack: OperatorStack, request: dict[str, Any], out: Output) -> str:
    execution_arn = start_job(stack, request, name="cli")
    out.line(f"submitted job {request['job_id']} ({execution_arn.rsplit(':', 1)[1]})")
    return execution_arn


def upload_batch(stack: OperatorStack, batch_file: Path, out: Output) -> str:
    """Uploads the batch, and the local media its rows name relative to it; returns the batch id.

    The folder is the file's stem plus a hash of its content, so uploading the same file again is the same object
    and its finished rows cost nothing again, and two batches' ``alice.png`` never overwrite each other."""
    if batch_file.suffix.lower() not in BATCH_SUFFIXES:
        raise UsageError(f"a batch is a .csv or .jsonl file, got {batch_file}")
    if not batch_file.is_file():
        raise UsageError(f"no such file {batch_file}")
    body = batch_file.read_bytes()
    folder = f"batches/{batch_file.stem}-{hashlib.sha256(body).hexdigest()[:8]}"
    s3 = stack.client("s3")
    for name in sorted(_local_media(batch_file, body)):
        s3.put_object(Bucket=stack.input_bucket, Key=f"{folder}/{name}", Body=(batch_file.parent / name).read_bytes())
    key = f"{folder}/{batch_file.name}"
    version = s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body).get("VersionId")
    if not version:
        raise UsageError(
            f"the input bucket {stack.input_bucket} is not versioned; this stack is not one the template made"
        )
    batch_id = batch_ref(stack.input_bucket, key, version).batch_id
    out.line(f"uploaded s3://{stack.input_bucket}/{key}: batch {batch_id}")
    return batch_id


def _local_media(batch_file: Path, body: bytes) -> set[str]:
    """Relative media names in the batch's rows that exist beside it (they resolve against the batch's folder)."""
    text = body.decode("utf-8", errors="replace")
    if batch_file.suffix.lower() == ".jsonl":
        rows = [_json_row(line) for line in text.splitlines() if line.strip()]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    names = {str(row.get(medium)) for row in rows for medium in MEDIA_FIELDS if row.get(medium)}
    return {
        name
        for name in names
        if not name.startswith(REMOTE)
        and not Path(name).is_absolute()
        and ".." not in Path(name).parts
        and (batch_file.parent / name).is_file()
    }


def _json_row(line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return {}  # PrepareBatch reports the bad row; it names no media to upload
    return row if isinstance(row, dict) else {}
