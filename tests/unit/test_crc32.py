"""The object CRC-32 combined from its parts' CRCs is the CRC-32 of the whole body, as zlib computes it."""

import base64
import zlib

from avatar_pipeline import crc32
from hypothesis import given
from hypothesis import strategies as st


@given(st.binary(max_size=4096), st.binary(max_size=4096))
def test_combining_two_crcs_gives_the_crc_of_the_joined_bodies(first: bytes, second: bytes) -> None:
    assert crc32.combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)


@given(st.lists(st.binary(max_size=2048), max_size=12))
def test_the_crc_of_parts_in_order_is_the_crc_of_the_body(parts: list[bytes]) -> None:
    assert crc32.of_parts((zlib.crc32(part), len(part)) for part in parts) == zlib.crc32(b"".join(parts))


def test_parts_of_several_mebibytes_combine_like_a_real_upload() -> None:
    """Equal parts and a shorter last one, as a multipart upload has them (the appended length is cached)."""
    body = bytes(range(256)) * (3 * 1024 * 1024 // 256) + b"tail"
    size = 1024 * 1024
    parts = [body[start : start + size] for start in range(0, len(body), size)]
    assert len(parts) == 4
    assert crc32.of_parts((crc32.of(part), len(part)) for part in parts) == zlib.crc32(body)


def test_no_parts_is_the_crc_of_an_empty_body() -> None:
    assert crc32.of_parts([]) == zlib.crc32(b"") == 0


def test_encoded_as_s3_writes_it() -> None:
    """S3's ChecksumCRC32: the four big-endian bytes of the CRC, in base64."""
    value = zlib.crc32(b"hello")
    assert crc32.encoded(value) == base64.b64encode(value.to_bytes(4, "big")).decode() == "NhCmhg=="
