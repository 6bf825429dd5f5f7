"""botocore failures of S3 (and other AWS) calls as the contract's error names, with a cause naming the object.

A throttled, unreachable or failing AWS endpoint is retried by the state machine as ``ProviderUnavailable``;
an object that is missing or may not be read is the caller's to fix (``InvalidRequest`` by default).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from .errors import InvalidRequest, PipelineError, ProviderUnavailable

MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion", "NoSuchBucket", "NoSuchUpload"})
TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "500",
        "502",
        "503",
        "504",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        # Lambda's Invoke: throttled, or its service failing.
        "TooManyRequestsException",
        "ServiceException",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def aws_failure(
    error: ClientError | BotoCoreError, what: str, *, permanent: type[PipelineError] = InvalidRequest
) -> PipelineError:
    """``what`` names the call and its object, e.g. ``reading s3://bucket/key``."""
    if isinstance(error, BotoCoreError):
        return ProviderUnavailable(f"{what} failed: {type(error).__name__} (retried)")
    code = error_code(error) or "an unknown error"
    if code in TRANSIENT_CODES:
        return ProviderUnavailable(f"{what} answered {code} (retried)")
    if code in MISSING_CODES:
        return permanent(f"{what} failed: it does not exist ({code})")
    return permanent(f"{what} was refused: {code}")
