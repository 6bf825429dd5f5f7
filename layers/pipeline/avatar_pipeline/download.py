"""The one streamed download into S3: pin the URL, stream it, follow checked redirects, upload in parts.

Fetched inputs (``validation``) and provider results (``persistence``) both come this way; each caller says what
its failures mean. A body that is not coded is received from the socket straight into the upload's parts
(``socket_body``). Redirects, size (after decoding, see ``decoding``), each wait for bytes (``read_timeout_seconds``,
from ``ProviderTimeoutSeconds``) and the whole copy (``deadline``) are bounded.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx

from .decoding import declared_length, response_body
from .fetch import FetchPolicy, Unresolvable, UnsafeUrl, pin, redirect_target
from .models import S3Location
from .providers.http import CONNECT_TIMEOUT_SECONDS
from .socket_body import socket_body
from .transfer import DEFAULT_PART_BYTES, BadBody, BodyCheck, CopyOutcome, OutOfTime, copy_stream_to_s3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class DownloadFailed(Exception):
    """A download that stopped before its body was read; ``url`` is the URL it stopped at (after redirects)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url


class Refused(DownloadFailed):
    """``url`` may not be fetched (``pin`` refused it), or a redirect led to something that is not a URL."""

    def __init__(self, url: str, reason: UnsafeUrl, *, redirect: bool = False) -> None:
        super().__init__(url, str(reason))
        self.unresolvable = isinstance(reason, Unresolvable)
        self.redirect = redirect


class TooManyRedirects(DownloadFailed):
    pass


class Answered(DownloadFailed):
    """The final answer was not ``200``."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(url, f"HTTP {status}")
        self.status = status


class Unreachable(DownloadFailed):
    """A timeout, a refused or reset connection (a body cut off mid-way is a ``BadBody``)."""

    def __init__(self, url: str, error: httpx.TransportError) -> None:
        self.timed_out = isinstance(error, httpx.TimeoutException)
        name = type(error).__name__
        super().__init__(url, f"timed out ({name})" if self.timed_out else f"{name}: {error}")


def stream_to_s3(
    url: str,
    *,
    client: httpx.Client,
    policy: FetchPolicy,
    read_timeout_seconds: float,
    s3: S3Client,
    destination: S3Location,
    check: BodyCheck,
    what: str,
    content_type: str,
    part_bytes: int = DEFAULT_PART_BYTES,
    deadline: float | None = None,
) -> CopyOutcome:
    """Pin, stream and store ``url``'s body, following checked redirects; ``check`` judges the body.

    Raises a ``DownloadFailed``, ``BadBody`` or ``OutOfTime`` (``deadline``, a ``time.monotonic()`` instant, passed),
    or the contract error of a failed S3 call. ``read_timeout_seconds`` bounds each wait for bytes.
    """
    timeout = httpx.Timeout(CONNECT_TIMEOUT_SECONDS, read=read_timeout_seconds)
    current = url
    for _hop in range(policy.max_redirects + 1):
        if deadline is not None and time.monotonic() > deadline:
            raise OutOfTime("no time was left to start the download")
        try:
            pinned = pin(current, policy)
        except UnsafeUrl as error:
            raise Refused(current, error) from error
        try:
            with client.stream(
                "GET", pinned.url, headers=pinned.headers, extensions=pinned.extensions, timeout=timeout
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    try:
                        current = redirect_target(current, response.headers["location"])
                    except UnsafeUrl as error:
                        raise Refused(current, error, redirect=True) from error
                    continue
                if response.status_code != 200:
                    raise Answered(current, response.status_code)
                declared = declared_length(response)
                if declared is not None:
                    check.declared(declared)
                chunks, length = response_body(response, what=what)
                received = socket_body(response, length) if length is not None else None
                return copy_stream_to_s3(
                    chunks if received is None else received,
                    s3=s3,
                    bucket=destination.bucket,
                    key=destination.key,
                    declared_length=length,
                    check=check,
                    part_bytes=part_bytes,
                    content_type=content_type,
                    deadline=deadline,
                )
        except httpx.RemoteProtocolError as error:
            raise BadBody(f"the download was cut off: {error}") from error
        except httpx.TransportError as error:
            raise Unreachable(current, error) from error
    raise TooManyRedirects(current, f"redirected more than {policy.max_redirects} times")
