"""Which addresses outbound fetches may connect to: public unicast ones only.

IPv6 forms that carry an IPv4 address (NAT64, 6to4, IPv4-compatible, IPv4-mapped) are judged by the IPv4
address they carry: a translator or relay would deliver the request there. Python's ``is_global`` does not
do this consistently (3.11 counts ``64:ff9b::a9fe:a9fe`` and ``2002:a00:5::1`` as global; 3.13 refuses all of
6to4 but still accepts NAT64 of a private address), so these forms are decided here, the same on every
version. Teredo hides its client address (inverted bits behind a relay) and the local-use NAT64 prefix may
place the IPv4 address anywhere after its 48 bits (RFC 8215): both are refused whatever they carry.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, IPv6Network

Address = IPv4Address | IPv6Address

NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = IPv6Network("64:ff9b:1::/48")
TEREDO = IPv6Network("2001::/32")
IPV4_COMPATIBLE = IPv6Network("::/96")


def why_refused(address: Address) -> str | None:
    """``None`` for a public unicast address; otherwise the address as a refusal names it, with the IPv4
    address it carries or what its form is, e.g. ``64:ff9b::a00:5 (NAT64 for 10.0.0.5)``."""
    if isinstance(address, IPv6Address):
        if address in TEREDO:
            return f"{address} (Teredo, whose IPv4 addresses are obfuscated)"
        if address in NAT64_LOCAL_USE:
            return f"{address} (local-use NAT64)"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            form, ipv4 = embedded
            return None if _is_public(ipv4) else f"{address} ({form} {ipv4})"
    return None if _is_public(address) else str(address)


def _is_public(address: Address) -> bool:
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "6to4 for", address.sixtofour
    low_bits = IPv4Address(int(address) & 0xFFFFFFFF)
    if address in NAT64_WELL_KNOWN:
        return "NAT64 for", low_bits
    # :: and ::1 are the unspecified and loopback addresses, not IPv4-compatible ones.
    if address in IPV4_COMPATIBLE and not (address.is_unspecified or address.is_loopback):
        return "IPv4-compatible", low_bits
    return None
