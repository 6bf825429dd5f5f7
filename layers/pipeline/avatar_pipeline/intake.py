"""Turns any trigger (S3 manifest event, pair drop, custom event, console input) into one job, or a rejection.

A request that is not valid is not an exception here: it becomes a rejection carrying the job id (the
caller's, when the raw input holds a well-formed one, else one derived from the trigger) and the trigger,
so the failure is claimed, recorded and published under the id the user knows.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
)
from pydantic import BaseModel, ValidationError

from .errors import InvalidRequest
from .job_ids import derived_job_id, execution_ref, well_formed_job_id
from .job_requests import (
    check_against_provider,
    describe_validation,
    manifest_body,
    media_source,
    parse_request,
    request_hash,
)
from .models import Job, JobRef, Origin, S3Location, StepFailure
from .pairs import PAIR_DETAIL_TYPE, PAIR_SOURCE
from .providers.registry import PROVIDERS

M = TypeVar("M", bound=BaseModel)

MANIFEST_PREFIX = "jobs/"
MANIFEST_SUFFIX = ".json"
MAX_MANIFEST_BYTES = 256 * 1024
CUSTOM_EVENT_SOURCE = "avatar.pipeline"
CUSTOM_EVENT_DETAIL_TYPE = "Avatar Video Requested"


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
        ref = JobRef(job_id=derived_job_id(unreadable.stem, unreadable.fingerprint), origin=unreadable.origin)
        return _rejected(ref, unreadable.error)
    except InvalidRequest as error:  # not an object, or a malformed event: nothing to name the job after
        return _rejected(execution_ref(execution_name), error)
    if isinstance(trigger, Ignored):
        return trigger
    raw = trigger.body if isinstance(trigger.body, dict) else {}
    stem = trigger.stem if trigger.stem is not None else _image_stem(raw.get("image"))
    job_id = well_formed_job_id(raw.get("job_id")) or derived_job_id(stem, trigger.fingerprint)
    named = raw.get("provider")
    provider = named if isinstance(named, str) and named in PROVIDERS else default_provider
    ref = JobRef(job_id=job_id, origin=trigger.origin, provider=provider)
    try:
        job = _job(trigger, job_id, input_bucket, default_provider, now or datetime.now(UTC))
    except InvalidRequest as error:
        return _rejected(ref, error)
    return Intake(ref=ref.model_copy(update={"provider": job.provider, "request_hash": job.request_hash}), job=job)


class _Unreadable(Exception):
    """The trigger names a manifest that cannot be turned into a request; the job id still derives from it."""

    def __init__(self, origin: Origin, stem: str, fingerprint: str, error: InvalidRequest) -> None:
        super().__init__(error.cause)
        self.origin, self.stem, self.fingerprint, self.error = origin, stem, fingerprint, error


def _identify(event: Any, execution_name: str, input_bucket: str, read_manifest: ManifestReader) -> _Trigger | Ignored:
    if not isinstance(event, dict):
        raise InvalidRequest(f"the execution input must be a JSON object (a job request), got {type(event).__name__}")
    if event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created":
        return _manifest(_parse(S3EventNotificationEventBridgeModel, event, "S3 event"), input_bucket, read_manifest)
    if event.get("source") == PAIR_SOURCE and event.get("detail-type") == PAIR_DETAIL_TYPE:
        detail = event.get("detail")
        stem = (
            posixpath.basename(posixpath.splitext(str(detail.get("image", "")))[0]) if isinstance(detail, dict) else ""
        )
        origin = Origin(
            kind="pair",
            delivery_id=f"pair:{execution_name}",
            pair=_pair_keys(detail),
            execution_name=execution_name,
        )
        return _Trigger(origin, f"pair/{execution_name}", stem or "pair", detail)
    if event.get("source") == CUSTOM_EVENT_SOURCE and event.get("detail-type") == CUSTOM_EVENT_DETAIL_TYPE:
        custom = _parse(EventBridgeModel, event, "custom event")
        origin = Origin(kind="event", delivery_id=f"event:{custom.id}", event_id=custom.id)
        return _Trigger(origin, f"event/{custom.id}", None, custom.detail)
    return _Trigger(Origin.execution(execution_name), f"execution/{execution_name}", None, event)


def _manifest(
    s3_event: S3EventNotificationEventBridgeModel, input_bucket: str, read_manifest: ManifestReader
) -> _Trigger | Ignored:
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
        raise _Unreadable(origin, stem, fingerprint, error)
    try:
        location, raw = read_manifest(location, version, MAX_MANIFEST_BYTES)
        origin = Origin(kind="manifest", delivery_id=delivery, manifest=location.uri)
        body = manifest_body(raw, location.uri)
    except InvalidRequest as error:
        origin = Origin(kind="manifest", delivery_id=delivery, manifest=location.uri)
        raise _Unreadable(origin, stem, fingerprint, error) from error
    fingerprint = f"{bucket}/{location.key}@{found.etag}"
    return _Trigger(origin, fingerprint, posixpath.basename(posixpath.splitext(location.key)[0]), body, location)


def _job(trigger: _Trigger, job_id: str, input_bucket: str, default_provider: str, requested_at: datetime) -> Job:
    what = f"manifest {trigger.manifest.uri}" if trigger.manifest else _BODY_NAMES[trigger.origin.kind]
    request = parse_request(trigger.body, what)
    provider = request.provider or default_provider
    check_against_provider(request, provider)
    folder = posixpath.dirname(trigger.manifest.key) if trigger.manifest else None
    image = media_source("image", request.image, folder, input_bucket)
    audio = media_source("audio", request.audio, folder, input_bucket) if request.audio else None
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


def _parse(model: type[M], event: dict[str, Any], what: str) -> M:
    try:
        return model.model_validate(event)
    except ValidationError as error:
        raise InvalidRequest(f"malformed {what}: {describe_validation(error)}") from error
