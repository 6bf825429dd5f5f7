"""Batches (contract): ``batches/<name>.csv`` or ``batches/<name>.jsonl`` in the input bucket, one job per row.

PrepareBatch reads the file once and writes its rows as one JSON array, ``batches-normalized/<batch_id>/rows``
in the input bucket, which the Distributed Map's ItemReader reads (one item per row, each starting one job); no
``.json`` suffix, as any ``*.json`` dropped in the input bucket is heard as a manifest drop. Rows are
not validated as requests here: Intake does that per row, so a bad row fails alone under its own job id.

A batch is one upload: ``batch_id`` hashes the object's bucket, key and version (ETag and sequencer where the bucket
is not versioned), so a redelivered event gives the same id and a re-drop a new one. Row job ids hash the key, the
row number and the row's content, not the version: a re-dropped file maps unchanged rows to the same jobs.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from .batch_csv import csv_rows
from .batch_items import BATCH_ITEMS, BatchIgnored, BatchItem, BatchRef, BatchSummary
from .batch_rows import ParsedRow, collect, jsonl_rows
from .errors import InvalidRequest, describe_validation
from .eventbridge import ObjectCreatedEvent
from .job_ids import MAX_SLUG_CHARS, batch_row_job_id
from .models import S3Location
from .s3errors import aws_failure, error_code
from .storage import MISSING_CODES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BATCH_PREFIX = "batches/"
NORMALIZED_PREFIX = "batches-normalized/"
# 10,000 rows of the longest requests the model allows (two 2,048-character media references, a 2,500-character
# prompt: about 7 KB a row) fit, with room to spare. Reading one takes about 6 bytes of memory per byte of file.
MAX_BATCH_BYTES = 100 * 1024 * 1024
_FORMATS: dict[str, Literal["csv", "jsonl"]] = {".csv": "csv", ".jsonl": "jsonl"}
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class Batch(BaseModel):
    batch: BatchRef
    items: list[BatchItem]

    @property
    def bad_rows(self) -> int:
        return sum(item.problem is not None for item in self.items)


@dataclass(frozen=True)
class BatchSource:
    """The object an S3 "Object Created" event names; its key may be URL-encoded."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    sequencer: str | None

    @property
    def revision(self) -> str:
        return self.version_id or f"{self.etag}:{self.sequencer or ''}"


def batch_source(event: Any) -> BatchSource:
    try:
        parsed = ObjectCreatedEvent.model_validate(event)
    except ValidationError as error:
        raise InvalidRequest(f"malformed S3 event: {describe_validation(error)}") from error
    found = parsed.detail.object
    version = found.version_id if found.version_id not in (None, "null") else None
    return BatchSource(parsed.detail.bucket.name, found.key, version, found.etag, found.sequencer)


def is_batch_key(key: str) -> bool:
    """``batches/**/<name>.csv`` or ``.jsonl``, any case; names starting with ``.`` (``._x.csv`` resource forks
    some clients upload beside a file, editors' lock files) are not batches."""
    stem, extension = posixpath.splitext(posixpath.basename(key))
    return key.startswith(BATCH_PREFIX) and extension.lower() in _FORMATS and bool(stem) and not stem.startswith(".")


def batch_ref(bucket: str, key: str, revision: str) -> BatchRef:
    name = posixpath.splitext(posixpath.basename(key))[0]
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")[:MAX_SLUG_CHARS].strip("-") or "batch"
    digest = hashlib.sha256(f"{bucket}/{key}#{revision}".encode()).hexdigest()[:8]
    return BatchRef(name=name, batch_id=f"{slug}-{digest}", key=f"s3://{bucket}/{key}", folder=posixpath.dirname(key))


def read_batch(raw: bytes, key: str, *, bucket: str, revision: str) -> Batch:
    """The batch file's rows as items; an ``InvalidRequest`` naming the file when it cannot be a batch at all
    (not a .csv/.jsonl name, over ``MAX_BATCH_BYTES``, not UTF-8, no rows, over ``MAX_ROWS``, no CSV header).
    Row numbering: see ``batch_rows``."""
    ref = batch_ref(bucket, key, revision)
    extension = posixpath.splitext(key)[1].lower()
    if extension not in _FORMATS:
        raise InvalidRequest(f"{ref.key} is not a batch: its name must end in .csv or .jsonl")
    if len(raw) > MAX_BATCH_BYTES:
        raise InvalidRequest(f"batch {ref.key} is {len(raw)} bytes; the limit is {MAX_BATCH_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"batch {ref.key} is not UTF-8 text (byte {error.start} is not)") from error
    rows = csv_rows(text, ref.key) if _FORMATS[extension] == "csv" else jsonl_rows(text)
    return Batch(batch=ref, items=[_item(ref, key, row) for row in collect(rows, ref.key)])


def prepare_batch(s3: S3Client, source: BatchSource, *, input_bucket: str) -> BatchSummary | BatchIgnored:
    """Reads the batch file (the event's version) and writes its items for the Map. A retried step writes the
    same bytes again."""
    if not is_batch_key(source.key):
        return BatchIgnored(ignored=f"s3://{source.bucket}/{source.key} is not a batch (batches/<name>.csv|.jsonl)")
    if source.bucket != input_bucket:
        raise InvalidRequest(f"batch s3://{source.bucket}/{source.key} is not in the input bucket {input_bucket}")
    key, raw = _read(s3, source)
    batch = read_batch(raw, key, bucket=source.bucket, revision=source.revision)
    items = S3Location(bucket=input_bucket, key=f"{NORMALIZED_PREFIX}{batch.batch.batch_id}/rows")
    try:
        s3.put_object(
            Bucket=items.bucket, Key=items.key, Body=BATCH_ITEMS.dump_json(batch.items), ContentType="application/json"
        )
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"writing the items of batch {batch.batch.key} to {items.uri}") from error
    return BatchSummary(batch=batch.batch, items=items, rows=len(batch.items), bad_rows=batch.bad_rows)


def _item(ref: BatchRef, key: str, row: ParsedRow) -> BatchItem:
    job_id = row.caller_job_id or batch_row_job_id(key, row.row, row.content)
    return BatchItem(batch=ref, row=row.row, job_id=job_id, request=row.request, problem=row.problem)


class _Missing(Exception):
    """The object (or the version) is not under this key."""


def _read(s3: S3Client, source: BatchSource) -> tuple[str, bytes]:
    """The real key and the body of exactly the version the event names. Event keys may arrive URL-encoded
    (``a b.csv`` as ``a+b.csv``): when the key as given does not exist, its decoded form is tried."""
    decoded = unquote_plus(source.key)
    try:
        return source.key, _get(s3, source, source.key)
    except _Missing as missing:
        if decoded == source.key:
            raise InvalidRequest(f"batch s3://{source.bucket}/{source.key} no longer exists") from missing
    try:
        return decoded, _get(s3, source, decoded)
    except _Missing as missing:
        raise InvalidRequest(f"batch s3://{source.bucket}/{decoded} no longer exists") from missing


def _get(s3: S3Client, source: BatchSource, key: str) -> bytes:
    """One bounded GET: a file over ``MAX_BATCH_BYTES`` is refused before its body is read."""
    uri = f"s3://{source.bucket}/{key}"
    params: dict[str, Any] = {"Bucket": source.bucket, "Key": key, "Range": f"bytes=0-{MAX_BATCH_BYTES}"}
    if source.version_id:
        params["VersionId"] = source.version_id
    else:
        params["IfMatch"] = f'"{source.etag}"'
    try:
        response = s3.get_object(**params)
        if response["ContentLength"] > MAX_BATCH_BYTES:
            raise InvalidRequest(f"batch {uri} is larger than the limit of {MAX_BATCH_BYTES} bytes")
        return response["Body"].read()
    except ClientError as error:
        code = error_code(error)
        if code in MISSING_CODES:
            raise _Missing(uri) from error
        if code == "InvalidRange":
            raise InvalidRequest(f"batch {uri} is empty (0 bytes)") from error
        if code == "PreconditionFailed":
            raise InvalidRequest(
                f"batch {uri} was replaced after this event; the new upload is a batch of its own"
            ) from error
        raise aws_failure(error, f"reading batch {uri}") from error
    except BotoCoreError as error:
        raise aws_failure(error, f"reading batch {uri}") from error
