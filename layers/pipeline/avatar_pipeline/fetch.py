"""Outbound fetches with SSRF protection: ``https://`` inputs into the input bucket, and (through ``pin``)
the provider's result URLs.

Only https; the host is resolved and every address must be public (see ``addresses``), again after every
redirect; the connection goes to the address that was checked (the TLS name is still the host's), so a DNS
answer cannot change between check and use. Redirects, size (after decoding, see ``decoding``) and time are
bounded. A fetched input's stored copy is what the provider later receives, presigned.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from .addresses import Address, why_refused
from .decoding import declared_length, response_body
from .errors import InvalidMedia, InvalidRequest
from .models import S3Location
from .transfer import BadBody, SizeCap, copy_stream_to_s3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Resolver = Callable[[str, int], list[Address]]

MAX_REDIRECTS = 3
CONNECT_TIMEOUT_SECONDS = 5.0


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
    """Copies ``url`` to ``destination``; returns the stored size. Problems are ``InvalidRequest``/``InvalidMedia``
    (``ProviderUnavailable`` when S3 fails passingly). ``read_timeout_seconds`` bounds each wait for bytes."""
    timeout = httpx.Timeout(CONNECT_TIMEOUT_SECONDS, read=read_timeout_seconds)
    what = f"{field} {url}"
    current = url
    for _hop in range(policy.max_redirects + 1):
        try:
            pinned = pin(current, policy)
        except UnsafeUrl as error:
            raise InvalidRequest(f"{field} {current}: {error}") from error
        try:
            with client.stream(
                "GET", pinned.url, headers=pinned.headers, extensions=pinned.extensions, timeout=timeout
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    current = redirect_target(current, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise InvalidRequest(f"{what} could not be fetched: HTTP {response.status_code}")
                declared = declared_length(response)
                if declared is not None and declared > max_bytes:
                    raise InvalidMedia(
                        f"{what} is {declared / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB"
                    )
                chunks, length = response_body(response, what=what)
                outcome = copy_stream_to_s3(
                    chunks,
                    s3=s3,
                    bucket=destination.bucket,
                    key=destination.key,
                    declared_length=length,
                    check=SizeCap(max_bytes, what),
                    content_type="application/octet-stream",
                )
                return outcome.size_bytes
        except UnsafeUrl as error:
            raise InvalidRequest(f"{field} {current} redirected to an unusable URL: {error}") from error
        except BadBody as error:
            raise InvalidMedia(str(error)) from error
        except httpx.TimeoutException as error:
            raise InvalidRequest(f"{field} {url} could not be fetched: timed out ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise InvalidRequest(f"{field} {url} could not be fetched: {type(error).__name__}: {error}") from error
    raise InvalidRequest(f"{field} {url} redirected more than {policy.max_redirects} times")


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
