"""``pin``: outbound fetches (result URLs, https inputs) go over https to public addresses only, aimed at the
address that was checked. IP literals only: no DNS is needed."""

import ipaddress

import pytest
from avatar_pipeline.fetch import FetchPolicy, Unresolvable, UnsafeUrl, pin

from tests.embedded_ipv4 import ALWAYS_REFUSED_FORMS, EMBEDDING_FORMS, EVERY_FORM, NOT_PUBLIC_IPV4, PUBLIC_IPV4

PUBLIC_ONLY = FetchPolicy()
LOOPBACK_ALLOWED = FetchPolicy(allow_loopback=True)


@pytest.mark.parametrize(
    ("url", "host_header", "tls_name"),
    [
        ("https://93.184.216.34/video.mp4", "93.184.216.34", "93.184.216.34"),
        ("https://93.184.216.34:8443/v.mp4?X-Amz-Signature=abc", "93.184.216.34:8443", "93.184.216.34"),
        ("https://[2606:4700::6810:85e5]/v.mp4", "[2606:4700::6810:85e5]", "2606:4700::6810:85e5"),
    ],
)
def test_public_https_is_allowed_and_aimed_at_the_checked_address(url: str, host_header: str, tls_name: str) -> None:
    pinned = pin(url, PUBLIC_ONLY)
    assert pinned.url == url  # an IP literal resolves to itself
    assert pinned.headers == {"Host": host_header, "Connection": "close", "Accept-Encoding": "identity"}
    assert pinned.extensions == {"sni_hostname": tls_name}


def test_a_host_name_is_connected_to_by_the_address_it_was_checked_at() -> None:
    policy = FetchPolicy(resolver=lambda host, port: [ipaddress.ip_address("93.184.216.34")])
    pinned = pin("https://cdn.example.test/v.mp4?sig=1", policy)
    assert pinned.url == "https://93.184.216.34/v.mp4?sig=1"
    assert pinned.headers["Host"] == "cdn.example.test"
    assert pinned.extensions == {"sni_hostname": "cdn.example.test"}


@pytest.mark.parametrize("url", ["http://93.184.216.34/video.mp4", "ftp://93.184.216.34/video.mp4"])
def test_non_https_is_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="only https:// URLs are fetched"):
        pin(url, PUBLIC_ONLY)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/v.mp4",
        "https://127.8.9.10/v.mp4",
        "https://[::1]/v.mp4",
        "https://10.0.0.5/v.mp4",
        "https://172.16.3.4/v.mp4",
        "https://192.168.1.1/v.mp4",
        "https://169.254.169.254/latest/meta-data/",
        "https://169.254.170.2/v2/credentials",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[fe80::1]/v.mp4",
        "https://100.64.0.1/v.mp4",
        "https://0.0.0.0/v.mp4",
        "https://[::ffff:127.0.0.1]/v.mp4",
        "https://2130706433/v.mp4",  # a decimal IPv4 literal for 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="which is not a public address; refused"):
        pin(url, PUBLIC_ONLY)


@pytest.mark.parametrize(
    ("address", "refused_as"),
    [(form.address(ipv4), form.refused_as(ipv4)) for form in EVERY_FORM for ipv4 in NOT_PUBLIC_IPV4]
    + [(form.address(PUBLIC_IPV4), form.refused_as(PUBLIC_IPV4)) for form in ALWAYS_REFUSED_FORMS],
)
def test_ipv6_forms_carrying_a_non_public_ipv4_address_are_refused(address: str, refused_as: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        pin(f"https://[{address}]/v.mp4", PUBLIC_ONLY)
    assert str(caught.value) == f"{address} resolves to {refused_as}, which is not a public address; refused"


@pytest.mark.parametrize("address", [form.address(PUBLIC_IPV4) for form in EMBEDDING_FORMS])
def test_ipv6_forms_carrying_a_public_ipv4_address_are_allowed(address: str) -> None:
    assert pin(f"https://[{address}]/v.mp4", PUBLIC_ONLY).url == f"https://[{address}]/v.mp4"


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("99999", "the URL is not valid (Port out of range 0-65535)"),
        ("65536", "the URL is not valid (Port out of range 0-65535)"),
        ("-1", "the URL is not valid (Port could not be cast to integer value as '-1')"),
        ("http", "the URL is not valid (Port could not be cast to integer value as 'http')"),
        ("0", "the URL names port 0"),
    ],
)
def test_a_port_that_is_not_a_port_is_refused(port: str, message: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        pin(f"https://93.184.216.34:{port}/v.mp4", PUBLIC_ONLY)
    assert str(caught.value) == message


def test_a_url_that_does_not_parse_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match=r"the URL is not valid \(Invalid IPv6 URL\)"):
        pin("https://[2606:4700::6810:85e5/v.mp4", PUBLIC_ONLY)


def test_url_without_host_or_with_credentials_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="no host"):
        pin("https:///v.mp4", PUBLIC_ONLY)
    with pytest.raises(UnsafeUrl, match="carries credentials"):
        pin("https://user:pass@93.184.216.34/v.mp4", PUBLIC_ONLY)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9100/v.mp4", "https://127.0.0.1/v.mp4", "http://[::1]:8080/v.mp4"])
def test_loopback_is_allowed_only_when_the_stack_says_so(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        pin(url, PUBLIC_ONLY)
    assert pin(url, LOOPBACK_ALLOWED).url == url


def test_a_host_that_does_not_resolve_is_told_apart_from_a_refused_one() -> None:
    def failing(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        raise OSError("Temporary failure in name resolution")

    with pytest.raises(Unresolvable, match=r"cannot resolve cdn\.example\.test"):
        pin("https://cdn.example.test/v.mp4", FetchPolicy(resolver=failing))
