"""ValidateMedia: prove, before anything is billed, that the inputs are what the provider accepts.

``https://`` inputs are first fetched (SSRF-safe) into the input bucket under ``fetched/<job_id>/``; then each
input is probed by its headers through bounded ranged reads: real type by content, dimensions, duration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from .capabilities import capabilities_of
from .download import Answered, Refused, TooManyRedirects, Unreachable, stream_to_s3
from .errors import InvalidMedia, InvalidRequest
from .fetch import FetchPolicy
from .models import Job, MediaProbe, MediaSource, S3Location, ValidatedMedia
from .probe import probe_audio, probe_image
from .s3reader import RangedS3Reader
from .settings import DEFAULT_TIMEOUT_SECONDS
from .storage import object_size
from .transfer import BadBody, SizeCap

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FETCHED_PREFIX = "fetched/"
# Inputs fetched over https are capped at the provider's limit, or this when it publishes none.
DEFAULT_MAX_FETCH_BYTES = 50 * 1024 * 1024


def validate_media(
    job: Job,
    s3: S3Client,
    *,
    input_bucket: str,
    http: httpx.Client | None = None,
    fetch_policy: FetchPolicy | None = None,
    read_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> ValidatedMedia:
    """``read_timeout_seconds`` bounds each wait for the bytes of an https input."""
    caps = capabilities_of(job.provider)
    image_location = _stored(
        job, "image", job.image, caps.max_image_bytes, s3, input_bucket, http, fetch_policy, read_timeout_seconds
    )
    image_name = job.image.display
    size = object_size(s3, "image", image_location)
    reader = RangedS3Reader(s3, image_location, size)
    image = probe_image(image_name, reader, size, caps)  # type: ignore[arg-type]
    probes = ValidatedMedia(
        image=MediaProbe(
            source=image_name,
            location=image_location,
            format=image.format,
            size_bytes=size,
            width=image.width,
            height=image.height,
            bytes_read=reader.bytes_fetched,
        )
    )
    if job.audio is not None:
        audio_location = _stored(
            job, "audio", job.audio, caps.max_audio_bytes, s3, input_bucket, http, fetch_policy, read_timeout_seconds
        )
        audio_name = job.audio.display
        size = object_size(s3, "audio", audio_location)
        reader = RangedS3Reader(s3, audio_location, size)
        audio = probe_audio(audio_name, reader, size, caps)  # type: ignore[arg-type]
        probes.audio = MediaProbe(
            source=audio_name,
            location=audio_location,
            format=audio.format,
            size_bytes=size,
            duration_seconds=audio.duration_seconds,
            duration_estimated=audio.duration_estimated or None,
            sample_rate=audio.sample_rate,
            channels=audio.channels,
            bytes_read=reader.bytes_fetched,
        )
    return probes


def _stored(
    job: Job,
    field: str,
    source: MediaSource,
    max_bytes: int | None,
    s3: S3Client,
    input_bucket: str,
    http: httpx.Client | None,
    fetch_policy: FetchPolicy | None,
    read_timeout_seconds: float,
) -> S3Location:
    if source.s3 is not None:
        return source.s3
    if source.url is None or http is None:
        raise InvalidRequest(f"{field} has neither an S3 location nor a fetchable URL")
    destination = S3Location(bucket=input_bucket, key=f"{FETCHED_PREFIX}{job.job_id}/{field}")
    fetch_to_s3(
        field,
        source.url,
        destination=destination,
        max_bytes=max_bytes or DEFAULT_MAX_FETCH_BYTES,
        s3=s3,
        client=http,
        policy=fetch_policy or FetchPolicy(),
        read_timeout_seconds=read_timeout_seconds,
    )
    return destination


def fetch_to_s3(
    field: str,
    url: str,
    *,
    destination: S3Location,
    max_bytes: int,
    s3: S3Client,
    client: httpx.Client,
    policy: FetchPolicy,
    read_timeout_seconds: float,
) -> int:
    """Copies the input ``url`` to ``destination``; returns the stored size. Problems are ``InvalidRequest`` or
    ``InvalidMedia`` (``ProviderUnavailable`` when S3 fails passingly)."""
    what = f"{field} {url}"
    try:
        outcome = stream_to_s3(
            url,
            client=client,
            policy=policy,
            read_timeout_seconds=read_timeout_seconds,
            s3=s3,
            destination=destination,
            check=SizeCap(max_bytes, what),
            what=what,
            content_type="application/octet-stream",
        )
    except Refused as refused:
        if refused.redirect:
            raise InvalidRequest(f"{field} {refused.url} redirected to an unusable URL: {refused}") from refused
        raise InvalidRequest(f"{field} {refused.url}: {refused}") from refused
    except (Answered, Unreachable) as failed:
        raise InvalidRequest(f"{what} could not be fetched: {failed}") from failed
    except TooManyRedirects as failed:
        raise InvalidRequest(f"{what} {failed}") from failed
    except BadBody as error:
        raise InvalidMedia(str(error)) from error
    return outcome.size_bytes
