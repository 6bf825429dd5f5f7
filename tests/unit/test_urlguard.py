"""``check_outbound_url``: result downloads go over https to public addresses only (IP literals, no DNS)."""

import pytest
from avatar_pipeline.urlguard import UnsafeUrl, check_outbound_url


@pytest.fixture(autouse=True)
def no_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALLOW_LOOPBACK_ENDPOINTS", raising=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/video.mp4",
        "https://93.184.216.34:8443/v.mp4?X-Amz-Signature=abc",
        "https://[2606:4700::6810:85e5]/v.mp4",
    ],
)
def test_public_https_is_allowed(url: str) -> None:
    check_outbound_url(url)


@pytest.mark.parametrize("url", ["http://93.184.216.34/video.mp4", "ftp://93.184.216.34/video.mp4"])
def test_non_https_is_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="only https URLs are fetched"):
        check_outbound_url(url)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://127.0.0.1/v.mp4", "127.0.0.1"),
        ("https://127.8.9.10/v.mp4", "127.8.9.10"),
        ("https://[::1]/v.mp4", "::1"),
        ("https://10.0.0.5/v.mp4", "10.0.0.5"),
        ("https://172.16.3.4/v.mp4", "172.16.3.4"),
        ("https://192.168.1.1/v.mp4", "192.168.1.1"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("https://169.254.170.2/v2/credentials", "169.254.170.2"),
        ("https://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),
        ("https://[fe80::1]/v.mp4", "fe80::1"),
        ("https://100.64.0.1/v.mp4", "100.64.0.1"),
        ("https://0.0.0.0/v.mp4", "0.0.0.0"),  # noqa: S104 - a refused URL, not a bind
        ("https://[::ffff:127.0.0.1]/v.mp4", "127.0.0.1"),
        ("https://2130706433/v.mp4", "127.0.0.1"),  # a decimal IPv4 literal
    ],
)
def test_non_public_addresses_are_refused(url: str, address: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        check_outbound_url(url)
    assert "non-public address" in str(caught.value)
    assert address in str(caught.value)


def test_url_without_host_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="no host"):
        check_outbound_url("https:///v.mp4")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9100/v.mp4", "https://127.0.0.1/v.mp4", "http://[::1]:8080/v.mp4"])
def test_loopback_is_allowed_only_when_the_stack_says_so(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_outbound_url(url)
    monkeypatch.setenv("ALLOW_LOOPBACK_ENDPOINTS", "false")
    with pytest.raises(UnsafeUrl):
        check_outbound_url(url)
    monkeypatch.setenv("ALLOW_LOOPBACK_ENDPOINTS", "true")
    check_outbound_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/v.mp4",
        "http://192.168.1.1/v.mp4",
        "http://93.184.216.34/v.mp4",
        "file:///etc/passwd",
        "ftp://127.0.0.1/v.mp4",
    ],
)
def test_allowing_loopback_allows_nothing_else(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("ALLOW_LOOPBACK_ENDPOINTS", "true")
    with pytest.raises(UnsafeUrl):
        check_outbound_url(url)
