"""S3 reads of the inputs: bounded manifest reads, sizes, event keys, and presigned GET URLs.

S3 failures are raised as contract errors (``s3errors``): passing ones as ``ProviderUnavailable``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from .errors import InvalidRequest
from .models import S3Location
from .s3errors import aws_failure, error_code

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# An object (or version) that is not there; a missing bucket is a deployment problem, reported as such.
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})


def read_manifest(
    s3: S3Client, location: S3Location, version_id: str | None, max_bytes: int
) -> tuple[S3Location, bytes]:
    """Where the manifest really is and its body, refusing anything over ``max_bytes`` without downloading it.

    Event keys may arrive URL-encoded (S3 notifications encode them, ``a b.json`` as ``a+b.json``): when the
    key as given does not exist, its decoded form is tried.
    """
    params = {"Bucket": location.bucket, "Key": location.key, "Range": f"bytes=0-{max_bytes}"}
    if version_id:
        params["VersionId"] = version_id
    try:
        response = s3.get_object(**params)  # type: ignore[arg-type]
    except ClientError as error:
        code = error_code(error)
        decoded = unquote_plus(location.key)
        if code in MISSING_CODES and decoded != location.key:
            return read_manifest(s3, S3Location(bucket=location.bucket, key=decoded), version_id, max_bytes)
        if code in MISSING_CODES:
            raise InvalidRequest(f"manifest {location.uri} no longer exists") from error
        if code == "InvalidRange":
            raise InvalidRequest(f"manifest {location.uri} is empty (0 bytes)") from error
        raise aws_failure(error, f"reading manifest {location.uri}") from error
    except BotoCoreError as error:
        raise aws_failure(error, f"reading manifest {location.uri}") from error
    total = _total_size(response.get("ContentRange"), response["ContentLength"])
    if total > max_bytes:
        raise InvalidRequest(f"manifest {location.uri} is {total} bytes; the limit is {max_bytes} bytes")
    try:
        return location, response["Body"].read()
    except BotoCoreError as error:
        raise aws_failure(error, f"reading manifest {location.uri}") from error


def existing_event_key(s3: S3Client, bucket: str, key: str) -> str:
    """The key an event names, decoded if only the decoded form exists (see ``read_manifest``).

    Asks with a listing, not HeadObject: PairDrop may list ``drop/`` but not read objects (HeadObject needs
    ``s3:GetObject``), and the shortest key under a prefix is listed first, so the raw key is found if it exists.
    """
    decoded = unquote_plus(key)
    if decoded == key:
        return key
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(error, f"listing s3://{bucket}/{key}") from error
    return key if listed and listed[0]["Key"] == key else decoded


def object_size(s3: S3Client, field: str, location: S3Location) -> int:
    """Size of an input; a missing object is an ``InvalidRequest`` naming it."""
    try:
        return int(s3.head_object(Bucket=location.bucket, Key=location.key)["ContentLength"])
    except ClientError as error:
        if error_code(error) in MISSING_CODES:
            raise InvalidRequest(f"{field} {location.uri} does not exist; upload it before the manifest") from error
        raise aws_failure(error, f"reading the size of {field} {location.uri}") from error
    except BotoCoreError as error:
        raise aws_failure(error, f"reading the size of {field} {location.uri}") from error


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
