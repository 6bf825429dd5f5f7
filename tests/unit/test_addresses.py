"""``why_refused``: the address policy, in particular for IPv6 forms that carry an IPv4 address."""

from ipaddress import IPv6Address, ip_address

import pytest
from avatar_pipeline.addresses import why_refused

from tests.embedded_ipv4 import ALWAYS_REFUSED_FORMS, EMBEDDING_FORMS, EVERY_FORM, NOT_PUBLIC_IPV4, PUBLIC_IPV4, Form


@pytest.mark.parametrize("form", EVERY_FORM, ids=lambda form: form.name)
@pytest.mark.parametrize("ipv4", NOT_PUBLIC_IPV4)
def test_a_form_carrying_a_non_public_ipv4_address_is_refused_naming_it(form: Form, ipv4: str) -> None:
    assert why_refused(ip_address(form.address(ipv4))) == form.refused_as(ipv4)


@pytest.mark.parametrize("form", EMBEDDING_FORMS, ids=lambda form: form.name)
def test_a_form_carrying_a_public_ipv4_address_is_allowed(form: Form) -> None:
    assert why_refused(ip_address(form.address(PUBLIC_IPV4))) is None


@pytest.mark.parametrize("form", ALWAYS_REFUSED_FORMS, ids=lambda form: form.name)
def test_teredo_and_local_use_nat64_are_refused_even_carrying_a_public_address(form: Form) -> None:
    assert why_refused(ip_address(form.address(PUBLIC_IPV4))) == form.refused_as(PUBLIC_IPV4)


def test_the_forms_are_what_python_says_they_are() -> None:
    # The builders themselves, checked against ipaddress where it decodes the form.
    teredo = IPv6Address(ALWAYS_REFUSED_FORMS[1].address("10.0.0.5")).teredo
    assert teredo is not None
    assert str(teredo[1]) == "10.0.0.5"
    assert str(IPv6Address(EMBEDDING_FORMS[1].address("10.0.0.5")).sixtofour) == "10.0.0.5"
    assert str(IPv6Address(EMBEDDING_FORMS[3].address("10.0.0.5")).ipv4_mapped) == "10.0.0.5"
    assert EMBEDDING_FORMS[0].address("10.0.0.5") == "64:ff9b::a00:5"


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("93.184.216.34", False),
        ("2606:4700::6810:85e5", False),
        ("::1", True),  # loopback, not IPv4-compatible 0.0.0.1
        ("::", True),
        ("10.0.0.5", True),
        ("224.0.0.1", True),  # multicast, which Python counts as global
        ("ff0e::1", True),
        ("fd00:ec2::254", True),
    ],
)
def test_plain_addresses(address: str, refused: bool) -> None:
    assert why_refused(ip_address(address)) == (address if refused else None)
