"""Job requests from untrusted JSON: parsed once, checked against the provider's capabilities, hashed.

Every problem is an ``InvalidRequest`` whose cause names the field and what is accepted.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from .capabilities import capabilities_of
from .errors import InvalidRequest, describe_validation
from .models import JobRequest, MediaSource, S3Location
from .options import parse_options

MAX_MANIFEST_DEPTH = 32


def parse_request(body: Any, what: str) -> JobRequest:
    if not isinstance(body, dict):
        raise InvalidRequest(f"{what} must be a JSON object with the job request fields, got {type(body).__name__}")
    try:
        return JobRequest.model_validate(body)
    except ValidationError as error:
        raise InvalidRequest(f"{what} is not a valid job request: {describe_validation(error)}") from error


def manifest_body(raw: bytes, uri: str) -> Any:
    """The manifest's JSON value, refusing what a job request can never be (not UTF-8, NaN, too deep)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"manifest {uri} is not UTF-8 text") from error
    try:
        body = json.loads(text, parse_constant=refuse_constant)
    except ValueError as error:  # JSONDecodeError included
        raise InvalidRequest(f"manifest {uri} is not valid JSON: {error}") from error
    except RecursionError as error:
        raise InvalidRequest(f"manifest {uri} is nested too deeply") from error
    if json_depth(body) > MAX_MANIFEST_DEPTH:
        raise InvalidRequest(f"manifest {uri} is nested deeper than {MAX_MANIFEST_DEPTH} levels")
    return body


def check_against_provider(request: JobRequest, provider: str) -> None:
    caps = capabilities_of(provider)
    if request.prompt is not None:
        if not caps.supports_prompt:
            raise InvalidRequest(f"{provider} does not take a prompt")
        if caps.max_prompt_chars is not None and len(request.prompt) > caps.max_prompt_chars:
            raise InvalidRequest(
                f"prompt is {len(request.prompt)} characters; {provider} accepts at most {caps.max_prompt_chars}"
            )
    if request.seed is not None and not caps.supports_seed:
        raise InvalidRequest(f"{provider} does not take a seed")
    parse_options(provider, request.options)


def media_source(field: str, ref: str, folder: str | None, input_bucket: str) -> MediaSource:
    """An ``s3://`` URI in the input bucket, an ``https://`` URL, or a key relative to the manifest's folder."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in ref):
        raise InvalidRequest(f"{field} contains control characters")
    try:
        parts = urlsplit(ref) if "://" in ref else None
        if parts is not None:
            parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as error:  # an unclosed "[" in the host, a port over 65535
        raise InvalidRequest(f"{field} {ref!r} is not a valid URL: {error}") from error
    scheme = parts.scheme.lower() if parts else ""
    if not scheme:
        return _relative_source(field, ref, folder, input_bucket)
    if scheme == "s3":
        return _s3_source(field, ref, input_bucket)
    if scheme != "https":
        raise InvalidRequest(f"{field} {ref!r} uses {scheme}://; only a relative key, s3:// or https:// is accepted")
    if parts is None or not parts.hostname:
        raise InvalidRequest(f"{field} {ref!r} is not a valid https URL")
    return MediaSource(url=ref)


def _s3_source(field: str, ref: str, input_bucket: str) -> MediaSource:
    bucket, _, key = ref[len("s3://") :].partition("/")
    if not bucket or not key:
        raise InvalidRequest(f"{field} {ref!r} is not a valid s3://bucket/key URI")
    if bucket != input_bucket:
        raise InvalidRequest(f"{field} {ref} is outside the input bucket {input_bucket}; upload it there first")
    return MediaSource(s3=S3Location(bucket=bucket, key=key))


def _relative_source(field: str, ref: str, folder: str | None, input_bucket: str) -> MediaSource:
    if folder is None:
        raise InvalidRequest(
            f"{field} {ref!r} is a relative key, which only a manifest file can use; give an s3:// or https:// URI"
        )
    if ref.startswith("/") or any(segment in (".", "..") for segment in ref.split("/")):
        raise InvalidRequest(f"{field} {ref!r} must stay inside the manifest's folder (no '/', '.' or '..' segments)")
    return MediaSource(s3=S3Location(bucket=input_bucket, key=posixpath.join(folder, ref)))


def request_hash(request: JobRequest, provider: str, image: MediaSource, audio: MediaSource | None) -> str:
    """The request's content, as resolved: two requests with the same hash ask for the same video."""
    content = request.model_dump(mode="json", exclude={"job_id"})
    content |= {"provider": provider, "image": image.display, "audio": audio.display if audio else None}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def refuse_constant(name: str) -> Any:
    """``json.loads``'s ``parse_constant``: NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not a JSON number")


def json_depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (a scalar is 1), counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        pending.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest
