"""Outbound fetches with SSRF protection: ``https://`` inputs into the input bucket, and (through ``pin``)
the provider's result URLs.

Only https; the host is resolved and every address must be public (private, loopback, link-local, metadata
and reserved ranges are refused), again after every redirect; the connection goes to the address that was
checked (the TLS name is still the host's), so a DNS answer cannot change between check and use. Redirects,
size and time are bounded. A fetched input's stored copy is what the provider later receives, presigned.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from .errors import InvalidMedia, InvalidRequest
from .models import S3Location
from .transfer import BadBody, SizeCap, copy_stream_to_s3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[Address]]

MAX_REDIRECTS = 3
FETCH_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
CHUNK_BYTES = 256 * 1024


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
) -> int:
    """Copies ``url`` to ``destination``; returns the stored size. Problems are ``InvalidRequest``/``InvalidMedia``."""
    current = url
    for _hop in range(policy.max_redirects + 1):
        try:
            pinned = pin(current, policy)
        except UnsafeUrl as error:
            raise InvalidRequest(f"{field} {current}: {error}") from error
        try:
            with client.stream(
                "GET", pinned.url, headers=pinned.headers, extensions=pinned.extensions, timeout=FETCH_TIMEOUT
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise InvalidRequest(f"{field} {url} could not be fetched: HTTP {response.status_code}")
                length = response.headers.get("content-length")
                declared = int(length) if length and length.isdigit() else None
                if declared is not None and declared > max_bytes:
                    raise InvalidMedia(
                        f"{field} {url} is {declared / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB"
                    )
                encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
                outcome = copy_stream_to_s3(
                    response.iter_bytes(CHUNK_BYTES),
                    s3=s3,
                    bucket=destination.bucket,
                    key=destination.key,
                    declared_length=None if encoded else declared,
                    check=SizeCap(max_bytes, f"{field} {url}"),
                    content_type="application/octet-stream",
                )
                return outcome.size_bytes
        except BadBody as error:
            raise InvalidMedia(str(error)) from error
        except httpx.TimeoutException as error:
            raise InvalidRequest(f"{field} {url} could not be fetched: timed out ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise InvalidRequest(f"{field} {url} could not be fetched: {type(error).__name__}: {error}") from error
    raise InvalidRequest(f"{field} {url} redirected more than {policy.max_redirects} times")


def pin(url: str, policy: FetchPolicy) -> PinnedRequest:
    """Checks ``url`` and aims the request at the address that was checked; raises ``UnsafeUrl``."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL carries credentials; they are not sent")
    port = parts.port or (443 if parts.scheme == "https" else 80)
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
            if not address.is_global or address.is_multicast:
                raise UnsafeUrl(f"{host} resolves to {address}, which is not a public address; refused")
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    # No keep-alive: the pool is keyed by the pinned address, and a connection verified for one host name
    # must not be reused for another name on the same address.
    return PinnedRequest(
        url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        headers={"Host": _host_header(url), "Connection": "close"},
        extensions={"sni_hostname": host},
    )


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]
