"""Turns any trigger (S3 manifest event, pair drop, custom event, console input) into one job, or a rejection.

A request that is not valid is not an exception here: it becomes a rejection carrying the job id (the
caller's, when the raw input holds a well-formed one, else one derived from the trigger) and the trigger,
so the failure is claimed, recorded and published under the id the user knows.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from .batch_items import BatchItem
from .capabilities import CAPABILITIES
from .errors import InvalidRequest
from .eventbridge import EventBridgeEvent, ObjectCreatedEvent
from .job_ids import derived_job_id, execution_ref, well_formed_job_id
from .job_requests import (
    check_against_provider,
    manifest_body,
    media_source,
    parse_request,
    request_hash,
)
from .models import Job, JobRef, Origin, S3Location, StepFailure
from .triggers import BatchRowTrigger, PairTrigger, parse_trigger

MANIFEST_PREFIX = "jobs/"
MANIFEST_SUFFIX = ".json"
MAX_MANIFEST_BYTES = 256 * 1024


class ManifestReader(Protocol):
    def __call__(self, location: S3Location, version_id: str | None, max_bytes: int) -> tuple[S3Location, bytes]:
        """Where the manifest really is (its key may arrive URL-encoded) and its body."""


class Ignored(BaseModel):
    """A trigger that is not a job (an object that is not a manifest). Ends the execution quietly."""

    ignored: str


class Intake(BaseModel):
    """A job, or the rejection of one: either way who it is about (``ref``)."""

    ref: JobRef
    job: Job | None = None
    rejection: StepFailure | None = None


@dataclass(frozen=True)
class _Trigger:
    origin: Origin
    fingerprint: str  # what a derived job id hashes: the same trigger content gives the same id
    stem: str | None  # the file stem a derived id starts with (None: the image's stem, if any)
    body: Any = None
    manifest: S3Location | None = None
    job_id: str | None = None  # the id the trigger already gave the job (a batch row's)
    folder: str | None = None  # what relative media keys resolve against (a manifest's or batch file's folder)
    what: str | None = None  # how a cause names the request


def take_trigger(
    event: Any,
    *,
    execution_name: str,
    input_bucket: str,
    default_provider: str,
    read_manifest: ManifestReader,
    now: datetime | None = None,
) -> Intake | Ignored:
    try:
        trigger = _identify(event, execution_name, input_bucket, read_manifest)
    except _Unreadable as unreadable:
        return _rejected(JobRef(job_id=unreadable.job_id, origin=unreadable.origin), unreadable.error)
    except InvalidRequest as error:  # not an object, or a malformed event: nothing to name the job after
        return _rejected(execution_ref(execution_name), error)
    if isinstance(trigger, Ignored):
        return trigger
    raw = trigger.body if isinstance(trigger.body, dict) else {}
    stem = trigger.stem if trigger.stem is not None else _image_stem(raw.get("image"))
    job_id = trigger.job_id or well_formed_job_id(raw.get("job_id")) or derived_job_id(stem, trigger.fingerprint)
    named = raw.get("provider")
    provider = named if isinstance(named, str) and named in CAPABILITIES else default_provider
    ref = JobRef(job_id=job_id, origin=trigger.origin, provider=provider)
    try:
        job = _job(trigger, job_id, input_bucket, default_provider, now or datetime.now(UTC))
    except InvalidRequest as error:
        return _rejected(ref, error)
    return Intake(ref=ref.model_copy(update={"provider": job.provider, "request_hash": job.request_hash}), job=job)


class _Unreadable(Exception):
    """The trigger cannot be turned into a request (a manifest that cannot be read, a bad batch row), but it still
    names the job: the failure is recorded under that id."""

    def __init__(self, origin: Origin, job_id: str, error: InvalidRequest) -> None:
        super().__init__(error.cause)
        self.origin, self.job_id, self.error = origin, job_id, error


def _identify(event: Any, execution_name: str, input_bucket: str, read_manifest: ManifestReader) -> _Trigger | Ignored:
    if not isinstance(event, dict):
        raise InvalidRequest(f"the execution input must be a JSON object (a job request), got {type(event).__name__}")
    match parse_trigger(event):
        case ObjectCreatedEvent() as s3_event:
            return _manifest(s3_event, input_bucket, read_manifest)
        case PairTrigger(detail=detail):
            image = str(detail.get("image", "")) if isinstance(detail, dict) else ""
            origin = Origin(
                kind="pair",
                delivery_id=f"pair:{execution_name}",
                pair=_pair_keys(detail),
                execution_name=execution_name,
            )
            return _Trigger(
                origin, f"pair/{execution_name}", posixpath.basename(posixpath.splitext(image)[0]) or "pair", detail
            )
        case BatchRowTrigger(detail=row):
            return _batch_row(row)
        case EventBridgeEvent() as custom:
            origin = Origin(kind="event", delivery_id=f"event:{custom.id}", event_id=custom.id)
            return _Trigger(origin, f"event/{custom.id}", None, custom.detail)
        case _:
            return _Trigger(Origin.execution(execution_name), f"execution/{execution_name}", None, event)


def _manifest(s3_event: ObjectCreatedEvent, input_bucket: str, read_manifest: ManifestReader) -> _Trigger | Ignored:
    bucket, key, found = s3_event.detail.bucket.name, s3_event.detail.object.key, s3_event.detail.object
    if not key.startswith(MANIFEST_PREFIX) or not key.lower().endswith(MANIFEST_SUFFIX):
        return Ignored(ignored=f"s3://{bucket}/{key} is not a manifest ({MANIFEST_PREFIX}*{MANIFEST_SUFFIX})")
    version = found.version_id if found.version_id not in (None, "null") else None
    delivery = f"s3:{bucket}/{key}#{version or f'{found.etag}:{found.sequencer}'}"
    location = S3Location(bucket=bucket, key=key)
    stem = posixpath.basename(posixpath.splitext(key)[0])
    fingerprint = f"{bucket}/{key}@{found.etag}"
    if bucket != input_bucket:
        origin = Origin(kind="manifest", delivery_id=delivery, manifest=location.uri)
        error = InvalidRequest(f"manifest {location.uri} is not in the input bucket {input_bucket}")
        raise _Unreadable(origin, derived_job_id(stem, fingerprint), error)
    try:
        location, raw = read_manifest(location, version, MAX_MANIFEST_BYTES)
        origin = Origin(kind="manifest", delivery_id=delivery, manifest=location.uri)
        body = manifest_body(raw, location.uri)
    except InvalidRequest as error:
        origin = Origin(kind="manifest", delivery_id=delivery, manifest=location.uri)
        raise _Unreadable(origin, derived_job_id(stem, fingerprint), error) from error
    fingerprint = f"{bucket}/{location.key}@{found.etag}"
    stem = posixpath.basename(posixpath.splitext(location.key)[0])
    folder, what = posixpath.dirname(location.key), f"manifest {location.uri}"
    return _Trigger(origin, fingerprint, stem, body, location, folder=folder, what=what)


def _batch_row(item: BatchItem) -> _Trigger:
    """One row of a batch file, as the batch's Map hands it over: its job id is already decided."""
    batch = item.batch.model_dump(exclude={"folder"})
    origin = Origin(kind="batch", delivery_id=f"batch:{item.batch.batch_id}#{item.row}", batch=batch, row=item.row)
    what = f"batch {item.batch.key} row {item.row}"
    if item.request is None:
        raise _Unreadable(origin, item.job_id, InvalidRequest(f"batch {item.batch.key} {item.problem}"))
    return _Trigger(origin, what, None, item.request, job_id=item.job_id, folder=item.batch.folder, what=what)


def _job(trigger: _Trigger, job_id: str, input_bucket: str, default_provider: str, requested_at: datetime) -> Job:
    request = parse_request(trigger.body, trigger.what or _BODY_NAMES[trigger.origin.kind])
    provider = request.provider or default_provider
    check_against_provider(request, provider)
    image = media_source("image", request.image, trigger.folder, input_bucket)
    audio = media_source("audio", request.audio, trigger.folder, input_bucket) if request.audio else None
    return Job(
        job_id=job_id,
        provider=provider,
        image=image,
        audio=audio,
        request=request,
        trigger=trigger.origin.kind,
        manifest=trigger.manifest,
        requested_at=requested_at,
        origin=trigger.origin,
        request_hash=request_hash(request, provider, image, audio),
    )


_BODY_NAMES = {
    "batch": "the batch row",
    "manifest": "the manifest",
    "pair": "the pair drop",
    "event": "the event detail",
    "console": "the execution input",
}


def _rejected(ref: JobRef, error: InvalidRequest) -> Intake:
    return Intake(ref=ref, rejection=StepFailure(Error=type(error).__name__, Cause=error.cause))


def _image_stem(image: Any) -> str:
    if not isinstance(image, str):
        return "job"
    return posixpath.basename(posixpath.splitext(image.split("?", 1)[0].rstrip("/"))[0]) or "job"


def _pair_keys(detail: Any) -> tuple[str, str] | None:
    if not isinstance(detail, dict):
        return None
    image, audio = detail.get("image"), detail.get("audio")
    return (image, audio) if isinstance(image, str) and isinstance(audio, str) else None
