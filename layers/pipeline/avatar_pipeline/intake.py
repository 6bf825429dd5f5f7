"""Turns any trigger (S3 manifest event, custom event, console input) into one validated ``Job``."""

from __future__ import annotations

import hashlib
import json
import posixpath
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
)
from pydantic import BaseModel, ValidationError

from .errors import InvalidRequest
from .models import Job, JobRequest, MediaSource, S3Location, TriggerKind
from .pairs import PAIR_DETAIL_TYPE, PAIR_SOURCE
from .providers.registry import provider_entry

M = TypeVar("M", bound=BaseModel)

MANIFEST_PREFIX = "jobs/"
MANIFEST_SUFFIX = ".json"
MAX_MANIFEST_BYTES = 256 * 1024
MAX_MANIFEST_DEPTH = 32
CUSTOM_EVENT_SOURCE = "avatar.pipeline"
CUSTOM_EVENT_DETAIL_TYPE = "Avatar Video Requested"


class ManifestReader(Protocol):
    def __call__(self, location: S3Location, version_id: str | None, max_bytes: int) -> tuple[S3Location, bytes]:
        """Where the manifest really is (its key may arrive URL-encoded) and its body."""


class Ignored(BaseModel):
    """A trigger that is not a job (an object that is not a manifest). Ends the execution quietly."""

    ignored: str


def job_from_trigger(
    event: Any,
    *,
    execution_name: str,
    input_bucket: str,
    default_provider: str,
    read_manifest: ManifestReader,
    now: datetime | None = None,
) -> Job | Ignored:
    requested_at = now or datetime.now(UTC)
    if not isinstance(event, dict):
        raise InvalidRequest(f"the execution input must be a JSON object (a job request), got {type(event).__name__}")
    if event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created":
        s3_event = _parse(S3EventNotificationEventBridgeModel, event, "S3 event")
        bucket, key = s3_event.detail.bucket.name, s3_event.detail.object.key
        if not key.startswith(MANIFEST_PREFIX) or not key.lower().endswith(MANIFEST_SUFFIX):
            return Ignored(ignored=f"s3://{bucket}/{key} is not a manifest ({MANIFEST_PREFIX}*{MANIFEST_SUFFIX})")
        if bucket != input_bucket:
            raise InvalidRequest(f"manifest s3://{bucket}/{key} is not in the input bucket {input_bucket}")
        version = s3_event.detail.object.version_id
        location, body = read_manifest(S3Location(bucket=bucket, key=key), version, MAX_MANIFEST_BYTES)
        request = _request_from_manifest(body, location)
        fingerprint = f"{bucket}/{key}@{version or s3_event.detail.object.etag}"
        return _job(request, "manifest", location, fingerprint, input_bucket, default_provider, requested_at)
    if event.get("source") == PAIR_SOURCE and event.get("detail-type") == PAIR_DETAIL_TYPE:
        request = _request(event.get("detail"), "the pair drop")
        return _job(request, "pair", None, f"pair/{request.job_id}", input_bucket, default_provider, requested_at)
    if event.get("source") == CUSTOM_EVENT_SOURCE and event.get("detail-type") == CUSTOM_EVENT_DETAIL_TYPE:
        custom = _parse(EventBridgeModel, event, "custom event")
        request = _request(custom.detail, "the event detail")
        return _job(request, "event", None, f"event/{custom.id}", input_bucket, default_provider, requested_at)
    request = _request(event, "the execution input")
    return _job(request, "console", None, f"execution/{execution_name}", input_bucket, default_provider, requested_at)


def _job(
    request: JobRequest,
    trigger: TriggerKind,
    manifest: S3Location | None,
    fingerprint: str,
    input_bucket: str,
    default_provider: str,
    requested_at: datetime,
) -> Job:
    provider = request.provider or default_provider
    caps = provider_entry(provider).capabilities
    if request.prompt is not None:
        if not caps.supports_prompt:
            raise InvalidRequest(f"{provider} does not take a prompt")
        if caps.max_prompt_chars is not None and len(request.prompt) > caps.max_prompt_chars:
            raise InvalidRequest(
                f"prompt is {len(request.prompt)} characters; {provider} accepts at most {caps.max_prompt_chars}"
            )
    if request.seed is not None and not caps.supports_seed:
        raise InvalidRequest(f"{provider} does not take a seed")
    _validate_options(provider, caps.options_model, request.options)
    folder = posixpath.dirname(manifest.key) if manifest else None
    return Job(
        job_id=request.job_id or _derived_job_id(trigger, fingerprint),
        provider=provider,
        image=_media_source("image", request.image, folder, input_bucket),
        audio=_media_source("audio", request.audio, folder, input_bucket) if request.audio else None,
        request=request,
        trigger=trigger,
        manifest=manifest,
        requested_at=requested_at,
    )


def _derived_job_id(trigger: TriggerKind, fingerprint: str) -> str:
    """Deterministic, so a re-delivered trigger maps to the same job and is claimed only once."""
    return f"{trigger[0]}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:32]}"


def _media_source(field: str, ref: str, folder: str | None, input_bucket: str) -> MediaSource:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in ref):
        raise InvalidRequest(f"{field} contains control characters")
    try:
        parts = urlsplit(ref) if "://" in ref else None
    except ValueError as error:  # e.g. an unclosed "[" in the host
        raise InvalidRequest(f"{field} {ref!r} is not a valid URL: {error}") from error
    scheme = parts.scheme.lower() if parts else ""
    if scheme == "s3":
        bucket, _, key = ref[len("s3://") :].partition("/")
        if not bucket or not key:
            raise InvalidRequest(f"{field} {ref!r} is not a valid s3://bucket/key URI")
        if bucket != input_bucket:
            raise InvalidRequest(f"{field} {ref} is outside the input bucket {input_bucket}; upload it there first")
        return MediaSource(s3=S3Location(bucket=bucket, key=key))
    if scheme == "https":
        if parts is None or not parts.hostname:
            raise InvalidRequest(f"{field} {ref!r} is not a valid https URL")
        return MediaSource(url=ref)
    if scheme:
        raise InvalidRequest(f"{field} {ref!r} uses {scheme}://; only a relative key, s3:// or https:// is accepted")
    if folder is None:
        raise InvalidRequest(
            f"{field} {ref!r} is a relative key, which only a manifest file can use; give an s3:// or https:// URI"
        )
    key = posixpath.normpath(posixpath.join(folder, ref))
    if ref.startswith("/") or key.startswith("../") or key == "..":
        raise InvalidRequest(f"{field} {ref!r} escapes the manifest's folder")
    return MediaSource(s3=S3Location(bucket=input_bucket, key=key))


def _validate_options(provider: str, model: type[BaseModel], options: dict[str, Any]) -> None:
    allowed = sorted(model.model_fields)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        allowed_text = ", ".join(allowed) if allowed else "none"
        raise InvalidRequest(f"unknown option(s) for {provider}: {', '.join(unknown)}; allowed: {allowed_text}")
    try:
        model.model_validate(options)
    except ValidationError as error:
        raise InvalidRequest(f"invalid options for {provider}: {_describe(error)}") from error


def _request_from_manifest(raw: bytes, location: S3Location) -> JobRequest:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"manifest {location.uri} is not UTF-8 text") from error
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"manifest {location.uri} is not valid JSON: {error}") from error
    except ValueError as error:
        raise InvalidRequest(f"manifest {location.uri} is not valid JSON: {error}") from error
    except RecursionError as error:
        raise InvalidRequest(f"manifest {location.uri} is nested too deeply") from error
    if _depth(body) > MAX_MANIFEST_DEPTH:
        raise InvalidRequest(f"manifest {location.uri} is nested deeper than {MAX_MANIFEST_DEPTH} levels")
    return _request(body, f"manifest {location.uri}")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        pending.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _request(body: Any, what: str) -> JobRequest:
    if not isinstance(body, dict):
        raise InvalidRequest(f"{what} must be a JSON object with the job request fields, got {type(body).__name__}")
    try:
        return JobRequest.model_validate(body)
    except ValidationError as error:
        raise InvalidRequest(f"{what} is not a valid job request: {_describe(error)}") from error


def _parse(model: type[M], event: dict[str, Any], what: str) -> M:
    try:
        return model.model_validate(event)
    except ValidationError as error:
        raise InvalidRequest(f"malformed {what}: {_describe(error)}") from error


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "request"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)
