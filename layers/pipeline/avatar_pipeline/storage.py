"""S3 reads of the inputs: bounded manifest reads, header reads, and presigned GET URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from .errors import InvalidMedia, InvalidRequest
from .models import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})


@dataclass(frozen=True)
class ObjectHead:
    size: int
    head: bytes


def read_manifest(s3: S3Client, location: S3Location, version_id: str | None, max_bytes: int) -> bytes:
    """The manifest body, refusing anything over ``max_bytes`` without downloading it."""
    params = {"Bucket": location.bucket, "Key": location.key, "Range": f"bytes=0-{max_bytes}"}
    if version_id:
        params["VersionId"] = version_id
    try:
        response = s3.get_object(**params)  # type: ignore[arg-type]
    except ClientError as error:
        code = _code(error)
        if code in MISSING_CODES:
            raise InvalidRequest(f"manifest {location.uri} no longer exists") from error
        if code == "InvalidRange":
            raise InvalidRequest(f"manifest {location.uri} is empty (0 bytes)") from error
        raise
    total = _total_size(response.get("ContentRange"), response["ContentLength"])
    if total > max_bytes:
        raise InvalidRequest(f"manifest {location.uri} is {total} bytes; the limit is {max_bytes} bytes")
    return response["Body"].read()


def read_head(s3: S3Client, field: str, location: S3Location, head_bytes: int) -> ObjectHead:
    """Size and first bytes of an input; a missing object is an ``InvalidRequest`` naming it."""
    try:
        response = s3.get_object(Bucket=location.bucket, Key=location.key, Range=f"bytes=0-{head_bytes - 1}")
    except ClientError as error:
        code = _code(error)
        if code in MISSING_CODES:
            raise InvalidRequest(f"{field} {location.uri} does not exist; upload it before the manifest") from error
        if code == "InvalidRange":
            raise InvalidMedia(f"{field} {location.uri} is empty (0 bytes)") from error
        raise
    size = _total_size(response.get("ContentRange"), response["ContentLength"])
    return ObjectHead(size=size, head=response["Body"].read())


def presigned_get(s3: S3Client, location: S3Location, expires_seconds: int) -> str:
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": location.bucket, "Key": location.key}, ExpiresIn=expires_seconds
    )


def _total_size(content_range: str | None, content_length: int) -> int:
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return content_length


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
