"""Presigned URLs for a job's inputs, made in the step that hands them to a provider."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import InvalidRequest
from .models import S3Location, ValidatedMedia
from .providers.base import PresignedInputs
from .storage import presigned_get

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def presigned_inputs(media: ValidatedMedia, s3: S3Client, expires_seconds: int) -> PresignedInputs:
    """URLs of the validated copies (an https input was fetched into the input bucket by then)."""
    input_bucket = media.image.location.bucket

    def presign(uri: str) -> str:
        if not uri.startswith("s3://"):
            return uri
        bucket, _, key = uri[len("s3://") :].partition("/")
        if bucket != input_bucket or not key:
            raise InvalidRequest(f"{uri} is not an object in the input bucket {input_bucket}")
        return presigned_get(s3, S3Location(bucket=bucket, key=key), expires_seconds)

    return PresignedInputs(
        image_url=presigned_get(s3, media.image.location, expires_seconds),
        audio_url=presigned_get(s3, media.audio.location, expires_seconds) if media.audio else None,
        presign=presign,
    )
