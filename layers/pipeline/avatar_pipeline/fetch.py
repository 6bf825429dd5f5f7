"""SSRF protection for outbound downloads (``https://`` inputs, the provider's result URLs; see ``download``).

Only https; the host is resolved and every address must be public (see ``addresses``), again after every
redirect; the connection goes to the address that was checked (the TLS name is still the host's), so a DNS
answer cannot change between check and use.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from .addresses import Address, why_refused

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


def redirect_target(current: str, location: str) -> str:
    """Where a redirect from ``current`` leads; ``UnsafeUrl`` when ``location`` is not a URL."""
    try:
        return urljoin(current, location)
    except ValueError as error:  # e.g. an unclosed IPv6 bracket
        raise UnsafeUrl(f"{location!r} is not a valid URL ({error})") from error


def pin(url: str, policy: FetchPolicy) -> PinnedRequest:
    """Checks ``url`` and aims the request at the address that was checked; raises ``UnsafeUrl``."""
    parts, explicit_port = _checked_parts(url)
    host = parts.hostname or ""
    addresses = _public_addresses(parts, host, explicit_port or (443 if parts.scheme == "https" else 80), policy)
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


def _checked_parts(url: str) -> tuple[SplitResult, int | None]:
    """The URL's parts and its explicit port, once nothing in them can mislead the fetch."""
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError as error:  # a port out of range or not a number, an unclosed IPv6 bracket
        raise UnsafeUrl(f"the URL is not valid ({error})") from error
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL carries credentials; they are not sent")
    if explicit_port == 0:
        raise UnsafeUrl("the URL names port 0")
    return parts, explicit_port


def _public_addresses(parts: SplitResult, host: str, port: int, policy: FetchPolicy) -> list[Address]:
    """What ``host`` resolves to, if the scheme and every address may be fetched from."""
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
    return list(addresses)


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]
