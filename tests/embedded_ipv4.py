"""IPv6 forms that carry an IPv4 address, built around chosen IPv4 addresses, for the SSRF guard's tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

NOT_PUBLIC_IPV4 = ["10.0.0.5", "127.0.0.1", "169.254.169.254"]  # private, loopback, link-local (metadata)
PUBLIC_IPV4 = "93.184.216.34"
TEREDO_SERVER = IPv4Address("65.54.227.120")


@dataclass(frozen=True)
class Form:
    name: str
    build: Callable[[int], int]  # the IPv4 address as an integer -> the IPv6 address as an integer
    refusal: str  # how a refusal names the form: "{ipv4}" stands for the IPv4 address it carries

    def address(self, ipv4: str) -> str:
        return str(IPv6Address(self.build(int(IPv4Address(ipv4)))))

    def refused_as(self, ipv4: str) -> str:
        return f"{self.address(ipv4)} ({self.refusal.format(ipv4=ipv4)})"


def _prefixed(prefix: str) -> Callable[[int], int]:
    return lambda ipv4: int(IPv6Address(prefix)) | ipv4


# Judged by the IPv4 address they carry.
EMBEDDING_FORMS = [
    Form("NAT64", _prefixed("64:ff9b::"), "NAT64 for {ipv4}"),
    Form("6to4", lambda ipv4: (0x2002 << 112) | (ipv4 << 80) | 1, "6to4 for {ipv4}"),
    Form("IPv4-compatible", _prefixed("::"), "IPv4-compatible {ipv4}"),
    Form("IPv4-mapped", _prefixed("::ffff:0:0"), "IPv4-mapped {ipv4}"),
]
# Refused whatever they carry.
ALWAYS_REFUSED_FORMS = [
    Form("local-use NAT64", _prefixed("64:ff9b:1::"), "local-use NAT64"),
    Form(
        "Teredo",  # server address, flags, then the client's port and address with every bit inverted
        lambda ipv4: (0x20010000 << 96) | (int(TEREDO_SERVER) << 64) | (0xFFFF << 32) | (ipv4 ^ 0xFFFFFFFF),
        "Teredo, whose IPv4 addresses are obfuscated",
    ),
]
EVERY_FORM = EMBEDDING_FORMS + ALWAYS_REFUSED_FORMS
