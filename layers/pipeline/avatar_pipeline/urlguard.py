"""Outbound fetches (result URLs) go over https to public addresses only.

Loopback http is allowed only when the stack says so (``ALLOW_LOOPBACK_ENDPOINTS``), which the embedded
local stack does for its provider simulator.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from .settings import bool_env


class UnsafeUrl(ValueError):
    pass


def check_outbound_url(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise UnsafeUrl("URL has no host")
    addresses = _resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    loopback_allowed = bool_env("ALLOW_LOOPBACK_ENDPOINTS")
    if loopback_allowed and parts.scheme in ("http", "https") and all(a.is_loopback for a in addresses):
        return
    if parts.scheme != "https":
        raise UnsafeUrl(f"only https URLs are fetched, not {parts.scheme}://")
    for address in addresses:
        if not address.is_global:
            raise UnsafeUrl(f"{host} resolves to non-public address {address}")


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise UnsafeUrl(f"cannot resolve {host}: {error}") from error
    return [ipaddress.ip_address(info[4][0]) for info in infos]
