"""Outbound downloads with SSRF protection: ``https://`` inputs into the input bucket, and the provider's result
videos into the output bucket, both through ``stream_to_s3``.

Only https; the host is resolved and every address must be public (see ``addresses``), again after every
redirect; the connection goes to the address that was checked (the TLS name is still the host's), so a DNS
answer cannot change between check and use. Redirects, size (after decoding, see ``decoding``) and time are
bounded. A fetched input's stored copy is what the provider later receives, presigned.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from .addresses import Address, why_refused
from .decoding import declared_length, response_body
from .errors import InvalidMedia, InvalidRequest
from .models import S3Location
from .providers.http import CONNECT_TIMEOUT_SECONDS
from .transfer import DEFAULT_PART_BYTES, BadBody, BodyCheck, CopyOutcome, OutOfTime, SizeCap, copy_stream_to_s3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Resolver = Callable[[str, int], list[Address]]

MAX_REDIRECTS = 3


def system_resolver(host: str, port: int) -> list[Address]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class UnsafeUrl(ValueError):
    """The URL may not be fetched (scheme, credentials, or an address that is not public)."""


class Unresolvable(UnsafeUrl):
    """The host did not resolve: possibly a passing DNS failure, unlike the other refusals."""


@dataclass(frozen=True)
class PinnedRequest:
    """A GET aimed at the checked address, carrying the original host for HTTP and TLS."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, str]


@dataclass(frozen=True)
class FetchPolicy:
    resolver: Resolver = system_resolver
    allow_loopback: bool = False  # only the embedded local stack's tests and simulator use this
    max_redirects: int = MAX_REDIRECTS


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
                return copy_stream_to_s3(
                    chunks,
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
    except DownloadFailed as failed:
        raise InvalidRequest(f"{what} {failed}") from failed
    except BadBody as error:
        raise InvalidMedia(str(error)) from error
    return outcome.size_bytes


def redirect_target(current: str, location: str) -> str:
    """Where a redirect from ``current`` leads; ``UnsafeUrl`` when ``location`` is not a URL."""
    try:
        return urljoin(current, location)
    except ValueError as error:  # e.g. an unclosed IPv6 bracket
        raise UnsafeUrl(f"{location!r} is not a valid URL ({error})") from error


def pin(url: str, policy: FetchPolicy) -> PinnedRequest:
    """Checks ``url`` and aims the request at the address that was checked; raises ``UnsafeUrl``."""
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError as error:  # a port out of range or not a number, an unclosed IPv6 bracket
        raise UnsafeUrl(f"the URL is not valid ({error})") from error
    host = parts.hostname
    if not host:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL carries credentials; they are not sent")
    if explicit_port == 0:
        raise UnsafeUrl("the URL names port 0")
    port = explicit_port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = policy.resolver(host, port)
    except (OSError, UnicodeError) as error:
        raise Unresolvable(f"cannot resolve {host} ({error})") from error
    if not addresses:
        raise UnsafeUrl(f"{host} has no address")
    loopback_ok = policy.allow_loopback and all(address.is_loopback for address in addresses)
    if parts.scheme != "https" and not (loopback_ok and parts.scheme == "http"):
        raise UnsafeUrl("only https:// URLs are fetched")
    if not loopback_ok:
        for address in addresses:
            refused = why_refused(address)
            if refused is not None:
                raise UnsafeUrl(f"{host} resolves to {refused}, which is not a public address; refused")
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{explicit_port}" if explicit_port else literal
    # No keep-alive: the pool is keyed by the pinned address, and a connection verified for one host name
    # must not be reused for another name on the same address. Bodies are asked for uncoded: a coded one is
    # decoded by ``decoding``, in bounded memory.
    return PinnedRequest(
        url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        headers={"Host": _host_header(url), "Connection": "close", "Accept-Encoding": "identity"},
        extensions={"sni_hostname": host},
    )


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]
