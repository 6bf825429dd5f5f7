"""C2PA content credentials: an MP4 signed with a run-time test chain reads back with what it claims, validates
against its own root only, and stops validating once its media bytes change."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from avatar_local.test_chain import GeneratedChain, KeyKind, make_test_chain
from content_signing.manifests import (
    CREATED,
    TRAINED_ALGORITHMIC_MEDIA,
    ContentCredentialsError,
    read_manifest,
    sign_mp4,
    signing_algorithm,
)
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

GENERATOR = "wavespeed/omnihuman-1.5"
LABEL = {"Label": "1", "ContentProducer": "acme", "ProduceID": "job-1"}


def make_mp4(path: Path, *, label: dict[str, str] | None = None) -> Path:
    """A 64x64, 12-frame MP4 (with an ``AIGC`` format tag when ``label`` is given)."""
    options = {"movflags": "use_metadata_tags"} if label else {}
    with av.open(str(path), "w", options=options) as out:
        if label:
            out.metadata["AIGC"] = json.dumps(label)
        stream = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=12)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for index in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), index * 20, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def sign(source: Path, destination: Path, chain: GeneratedChain) -> Path:
    sign_mp4(
        source,
        destination,
        generator=GENERATOR,
        certificate_chain_pem=chain.certificate_chain_pem,
        private_key_pem=chain.private_key_pem,
    )
    return destination


@pytest.fixture(scope="module")
def chain() -> GeneratedChain:
    return make_test_chain()


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, chain: GeneratedChain) -> Path:
    folder = tmp_path_factory.mktemp("signed")
    return sign(make_mp4(folder / "plain.mp4", label=LABEL), folder / "video.mp4", chain)


def test_the_manifest_says_created_by_a_trained_model_and_names_the_generator(
    signed: Path, chain: GeneratedChain
) -> None:
    report = read_manifest(signed, trust_anchors_pem=chain.root_pem)
    assert report is not None
    assert report.label.startswith("urn:c2pa:")
    assert report.generator == GENERATOR
    assert [(a.action, a.digital_source_type, a.software_agent) for a in report.actions] == [
        (CREATED, TRAINED_ALGORITHMIC_MEDIA, GENERATOR)
    ]
    assert report.issuer == "Avatar Pipeline (local test)"
    assert (report.validation_state, report.signature_valid, report.trusted, report.failures) == (
        "Trusted",
        True,
        True,
        [],
    )


def test_signing_keeps_the_aigc_label_and_the_video(signed: Path) -> None:
    with av.open(str(signed)) as container:
        assert json.loads(container.metadata["AIGC"]) == LABEL
        assert sum(1 for _ in container.decode(video=0)) == 12


def test_an_unrelated_root_does_not_trust_it_and_no_anchor_checks_integrity_only(signed: Path) -> None:
    untrusted = read_manifest(signed, trust_anchors_pem=make_test_chain().root_pem)
    assert untrusted is not None
    assert (untrusted.signature_valid, untrusted.trusted) == (True, False)
    assert "signingCredential.untrusted" in untrusted.failures
    unanchored = read_manifest(signed)
    assert unanchored is not None
    assert (unanchored.validation_state, unanchored.signature_valid, unanchored.trusted) == ("Valid", True, None)


def test_a_byte_flipped_in_mdat_fails_validation(signed: Path, tmp_path: Path, chain: GeneratedChain) -> None:
    data = bytearray(signed.read_bytes())
    data[_mdat_payload(bytes(data)) + 16] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(data)
    report = read_manifest(tampered, trust_anchors_pem=chain.root_pem)
    assert report is not None
    assert (report.validation_state, report.signature_valid, report.trusted) == ("Invalid", False, False)
    assert any("mismatch" in code for code in report.failures)


def test_an_mp4_without_credentials_has_no_manifest(tmp_path: Path) -> None:
    assert read_manifest(make_mp4(tmp_path / "plain.mp4")) is None


@pytest.mark.parametrize(
    ("kind", "algorithm"), [("ec-p256", "es256"), ("ec-p384", "es384"), ("ed25519", "ed25519"), ("rsa", "ps256")]
)
def test_the_algorithm_follows_the_key(tmp_path: Path, kind: KeyKind, algorithm: str) -> None:
    chain = make_test_chain(kind=kind)
    assert signing_algorithm(chain.private_key_pem) == algorithm
    result = sign_mp4(
        make_mp4(tmp_path / "in.mp4"),
        tmp_path / "out.mp4",
        generator=GENERATOR,
        certificate_chain_pem=chain.certificate_chain_pem,
        private_key_pem=chain.private_key_pem,
        generator_version="1.5",
    )
    assert (result.algorithm, result.generator) == (algorithm, GENERATOR)
    report = read_manifest(tmp_path / "out.mp4", trust_anchors_pem=chain.root_pem)
    assert report is not None
    assert (report.label, report.trusted) == (result.label, True)


BAD_BASE64 = "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n"


def _sec1(chain: GeneratedChain) -> str:
    key = serialization.load_pem_private_key(chain.private_key_pem.encode(), None)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def _bad_credentials(case: str, chain: GeneratedChain) -> tuple[str, str]:
    """(certificate chain, private key) for one way of getting them wrong."""
    certificate, key = chain.certificate_chain_pem, chain.private_key_pem
    return {
        "key-of-another-certificate": (certificate, make_test_chain().private_key_pem),
        "sec1-key": (certificate, _sec1(chain)),
        "no-pem": (certificate, "not a key"),
        "bad-base64": (certificate, BAD_BASE64),
        "no-certificate": ("not a certificate", key),
        "ca-as-signer": (chain.root_pem, key),
    }[case]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("key-of-another-certificate", "does not validate .*claimSignature"),
        ("sec1-key", "PKCS#8"),
        ("no-pem", "PKCS#8"),
        ("bad-base64", "base64"),
        ("no-certificate", "signing certificate"),
        ("ca-as-signer", "self-signed"),
    ],
)
def test_bad_credentials_raise_content_credentials_error_and_leave_no_output(
    tmp_path: Path, chain: GeneratedChain, case: str, reason: str
) -> None:
    certificate, key = _bad_credentials(case, chain)
    destination = tmp_path / "out.mp4"
    with pytest.raises(ContentCredentialsError, match=reason) as raised:
        sign_mp4(
            make_mp4(tmp_path / "in.mp4"),
            destination,
            generator=GENERATOR,
            certificate_chain_pem=certificate,
            private_key_pem=key,
        )
    assert "PRIVATE KEY-----\n" not in str(raised.value)
    assert not destination.exists()


def test_the_test_chain_follows_the_c2pa_certificate_profile(chain: GeneratedChain) -> None:
    root = x509.load_pem_x509_certificate(chain.root_pem.encode())
    (leaf,) = x509.load_pem_x509_certificates(chain.certificate_chain_pem.encode())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    eku = leaf.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku
    authority = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert authority == root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert leaf.issuer == root.subject
    assert leaf.not_valid_after_utc < root.not_valid_after_utc


def _mdat_payload(data: bytes) -> int:
    """Offset of the first top-level ``mdat`` box's payload."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = int.from_bytes(data[offset : offset + 4], "big"), data[offset + 4 : offset + 8]
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[offset + 8 : offset + 16], "big"), 16
        if kind == b"mdat":
            return offset + header
        offset += size or len(data)
    raise AssertionError("no mdat box")
