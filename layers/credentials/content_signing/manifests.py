"""C2PA content credentials for output MP4s: sign one with a manifest, read one back and validate it.

The manifest says the video was made by a trained model (action ``c2pa.created``, IPTC digital source type
``trainedAlgorithmicMedia``) and names the provider and model (``wavespeed/omnihuman-1.5``) as the generator, both
as the claim generator and as the action's software agent. The signer is built from PEM text, as the provider
secret holds it: ``c2pa.certificate_chain`` (the signing certificate first, then any intermediates) and
``c2pa.private_key`` (PKCS#8, unencrypted); the algorithm follows the key. Nothing goes to the network: no
time-stamp authority unless one is named, no remote manifests, no OCSP.

Only the standard library and ``c2pa`` (c2pa-python, a 20 MiB native library): this package and c2pa make up the
credentials layer, the one layer of SignVideo, the one function that signs.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa

CREATED = "c2pa.created"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MP4 = "video/mp4"
# Never the network. sign_mp4 reads its output back (one validation pass, which also gives the label).
_OFFLINE = {"remote_manifest_fetch": False, "ocsp_fetch": False}
_SIGN_SETTINGS: dict[str, Any] = {
    "verify": {"verify_after_sign": False, "verify_trust": False, **_OFFLINE},
    "builder": {"thumbnail": {"enabled": False}},
}
# PKCS#8 AlgorithmIdentifier OIDs (DER contents) → C2PA signing algorithm.
_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")
_CURVES = {
    bytes.fromhex("2a8648ce3d030107"): "es256",  # P-256
    bytes.fromhex("2b81040022"): "es384",  # P-384
    bytes.fromhex("2b81040023"): "es512",  # P-521
}
_KEY_ALGORITHMS = {
    bytes.fromhex("2b6570"): "ed25519",
    bytes.fromhex("2a864886f70d010101"): "ps256",  # rsaEncryption: signed with RSASSA-PSS
    bytes.fromhex("2a864886f70d01010a"): "ps256",  # id-RSASSA-PSS
}


class ContentCredentialsError(Exception):
    """The MP4 could not be signed or read; the message says why and never quotes key material."""


@dataclass(frozen=True)
class SignedManifest:
    label: str
    algorithm: str
    generator: str
    manifest_bytes: int


@dataclass(frozen=True)
class ActionReport:
    action: str
    digital_source_type: str | None
    software_agent: str | None


@dataclass(frozen=True)
class ManifestReport:
    """The active manifest of an MP4's manifest store, and what validating it found."""

    label: str
    generator: str | None
    actions: list[ActionReport]
    issuer: str | None
    common_name: str | None
    algorithm: str | None
    validation_state: str | None
    # The signature and every hash bind the manifest to these bytes.
    signature_valid: bool
    # The signing certificate chains to the given trust anchor; None when no anchor was given.
    trusted: bool | None
    failures: list[str]


def signing_algorithm(private_key_pem: str) -> str:
    """``es256``/``es384``/``es512`` for EC keys, ``ed25519``, ``ps256`` for RSA, from a PKCS#8 PEM private key."""
    algorithm_id = _pkcs8_algorithm(_pem_body(private_key_pem))
    oid, parameters = _der(algorithm_id, 0x06)
    if oid == _EC_PUBLIC_KEY:
        curve = _der(parameters, 0x06)[0] if parameters else b""
        if curve in _CURVES:
            return _CURVES[curve]
        raise ContentCredentialsError("c2pa.private_key is an EC key on a curve C2PA cannot sign with")
    if oid in _KEY_ALGORITHMS:
        return _KEY_ALGORITHMS[oid]
    raise ContentCredentialsError("c2pa.private_key is of a kind C2PA cannot sign with (EC, Ed25519 or RSA)")


def sign_mp4(
    source: Path,
    destination: Path,
    *,
    generator: str,
    certificate_chain_pem: str,
    private_key_pem: str,
    generator_version: str | None = None,
    tsa_url: str | None = None,
) -> SignedManifest:
    """Writes ``source`` with a C2PA manifest embedded to ``destination`` (removed again if signing fails)."""

    algorithm = signing_algorithm(private_key_pem)
    info = {"name": generator, **({"version": generator_version} if generator_version else {})}
    action = {"action": CREATED, "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA, "softwareAgent": info}
    manifest = {
        "claim_generator_info": [info],
        "title": destination.name,
        "format": MP4,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [action]}}],
    }
    key, chain = private_key_pem.encode("utf-8"), certificate_chain_pem.encode("utf-8")
    try:
        with (
            c2pa.Signer.from_info(c2pa.C2paSignerInfo(algorithm, chain, key, tsa_url)) as signer,
            c2pa.Context.from_dict(_SIGN_SETTINGS) as context,
            c2pa.Builder(manifest, context=context) as builder,
            source.open("rb") as source_file,
            destination.open("w+b") as destination_file,
        ):
            manifest_bytes = builder.sign(signer, MP4, source_file, destination_file)
        report = read_manifest(destination)
        if report is None or not report.signature_valid:
            found = ", ".join(report.failures) if report else "no manifest"
            raise ContentCredentialsError(f"it does not validate ({found}): does the key belong to the certificate?")
    except (c2pa.C2paError, OSError, ValueError, TypeError, ContentCredentialsError) as error:
        destination.unlink(missing_ok=True)
        raise ContentCredentialsError(f"signing {source.name} failed: {_reason(error)}") from None
    return SignedManifest(
        label=report.label, algorithm=algorithm, generator=generator, manifest_bytes=len(manifest_bytes)
    )


def read_manifest(path: Path, *, trust_anchors_pem: str | None = None) -> ManifestReport | None:
    """The active manifest of ``path`` (None if it has no manifest store), validated offline.

    With ``trust_anchors_pem`` (one or more PEM certificates) those anchors replace the SDK's built-in trust list
    and ``trusted`` says whether the signing certificate chains to one of them.
    """

    verify: dict[str, Any] = {"verify_after_reading": True, "verify_trust": trust_anchors_pem is not None, **_OFFLINE}
    settings: dict[str, Any] = {"verify": verify}
    if trust_anchors_pem is not None:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    try:
        with c2pa.Context.from_dict(settings) as context, path.open("rb") as stream:
            reader = c2pa.Reader.try_create(MP4, stream, None, context)
            if reader is None:
                return None
            with reader:
                store = json.loads(reader.json())
    except (c2pa.C2paError, OSError, ValueError) as error:
        raise ContentCredentialsError(f"reading the manifest of {path.name} failed: {_reason(error)}") from None
    return _report(store, anchored=trust_anchors_pem is not None)


def _report(store: dict[str, Any], *, anchored: bool) -> ManifestReport:
    label = str(store.get("active_manifest") or "")
    manifest: dict[str, Any] = store.get("manifests", {}).get(label, {})
    generators = manifest.get("claim_generator_info") or [{}]
    signature: dict[str, Any] = manifest.get("signature_info") or {}
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = [str(item.get("code")) for item in results.get("failure", [])]
    state = store.get("validation_state")
    return ManifestReport(
        label=label,
        generator=generators[0].get("name"),
        actions=[_action(action) for action in _actions(manifest)],
        issuer=signature.get("issuer"),
        common_name=signature.get("common_name"),
        algorithm=signature.get("alg"),
        validation_state=state,
        signature_valid=state in ("Valid", "Trusted"),
        trusted=(state == "Trusted") if anchored else None,
        failures=failures,
    )


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            return list(assertion.get("data", {}).get("actions", []))
    return []


def _action(action: dict[str, Any]) -> ActionReport:
    agent = action.get("softwareAgent")
    return ActionReport(
        action=str(action.get("action")),
        digital_source_type=action.get("digitalSourceType"),
        software_agent=agent.get("name") if isinstance(agent, dict) else agent,
    )


def _pem_body(pem: str) -> bytes:
    begin, end = "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"
    start, stop = pem.find(begin), pem.find(end)
    if start < 0 or stop < start:
        raise ContentCredentialsError(
            "c2pa.private_key must be an unencrypted PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----); "
            "convert one with `openssl pkcs8 -topk8 -nocrypt`"
        )
    try:
        return base64.b64decode("".join(pem[start + len(begin) : stop].split()), validate=True)
    except (binascii.Error, ValueError):
        raise ContentCredentialsError("c2pa.private_key is not valid PEM (its base64 does not decode)") from None


def _pkcs8_algorithm(der: bytes) -> bytes:
    """The contents of PrivateKeyInfo's AlgorithmIdentifier: SEQUENCE { INTEGER, SEQUENCE { OID, params }, ... }."""
    private_key_info, _ = _der(der, 0x30)
    _, rest = _der(private_key_info, 0x02)
    return _der(rest, 0x30)[0]


def _der(data: bytes, tag: int) -> tuple[bytes, bytes]:
    """One DER element of type ``tag`` at the start of ``data``: (its contents, what follows it)."""
    if len(data) < 2 or data[0] != tag:
        raise ContentCredentialsError("c2pa.private_key is not a well-formed PKCS#8 key")
    length, offset = data[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if offset + length > len(data):
        raise ContentCredentialsError("c2pa.private_key is not a well-formed PKCS#8 key")
    return data[offset : offset + length], data[offset + length :]


def _reason(error: BaseException) -> str:
    return (str(error).strip() or type(error).__name__).splitlines()[0]
