"""A throwaway C2PA certificate chain made at run time: a root CA and a signing certificate it issued.

For tests and the local stack only; nothing here is ever committed as key material. The signing certificate
follows the C2PA certificate profile (what c2pa-rs checks before it signs or trusts): X.509 v3, not a CA,
key usage ``digitalSignature`` (critical), an extended key usage that is neither empty nor ``anyExtendedKeyUsage``
(``emailProtection`` and ``documentSigning``), a bounded validity period, and an authority key identifier
matching the root's subject key identifier.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyKind = Literal["ec-p256", "ec-p384", "ed25519", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
# id-kp-documentSigning (RFC 9336).
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class GeneratedChain:
    """PEM strings, as the provider secret holds them (``c2pa.certificate_chain``, ``c2pa.private_key``)."""

    root_pem: str
    certificate_chain_pem: str
    private_key_pem: str


def _new_key(kind: KeyKind) -> PrivateKey:
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _root(key: ec.EllipticCurvePrivateKey, name: x509.Name, now: datetime.datetime) -> x509.Certificate:
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf(
    key: PrivateKey,
    name: x509.Name,
    root: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
) -> x509.Certificate:
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )


def make_test_chain(*, kind: KeyKind = "ec-p256", organization: str = "Avatar Pipeline (local test)") -> GeneratedChain:
    """A fresh root CA (P-256) and a signing certificate with a key of ``kind``; PEM strings, nothing on disk."""
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _root(root_key, _name(f"{organization} root CA", organization), now)
    key = _new_key(kind)
    leaf = _leaf(key, _name(f"{organization} signer", organization), root, root_key, now)
    return GeneratedChain(
        root_pem=root.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        certificate_chain_pem=leaf.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii"),
    )


def local_signing_chain(state_dir: Path) -> tuple[dict[str, str], Path]:
    """A new chain for one run of the local stack: the provider secret's ``c2pa`` entry, and the root CA written to
    ``<state_dir>/c2pa-root.pem`` (``stack.json``'s ``c2pa_trust_anchor``) to validate outputs against."""
    chain = make_test_chain()
    anchor = state_dir / "c2pa-root.pem"
    anchor.write_text(chain.root_pem, encoding="ascii")
    return {"certificate_chain": chain.certificate_chain_pem, "private_key": chain.private_key_pem}, anchor
