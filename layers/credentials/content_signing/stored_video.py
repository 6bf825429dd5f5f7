"""Signing a video that is stored in S3: brought to ``/tmp``, signed there (``manifests``), and the signed file
uploaded under another key. The caller (PersistResult) decides what a signing failure means for the job, so a
video that cannot be signed is an answer (``SignOutcome.failure``), not an error; errors are what a retry may fix
(S3 unreachable, the function out of disk)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .manifests import ContentCredentialsError, sign_mp4

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class BadSignRequest(ValueError):
    """The invocation's event is not a SignRequest."""


@dataclass(frozen=True)
class SignRequest:
    """What PersistResult asks for: sign ``s3://bucket/source_key`` into ``s3://bucket/destination_key``."""

    job_id: str
    bucket: str
    source_key: str
    destination_key: str
    generator: str  # the provider and model, e.g. wavespeed/omnihuman-1.5

    @classmethod
    def parse(cls, event: Any) -> SignRequest:
        fields = ("job_id", "bucket", "source_key", "destination_key", "generator")
        if not isinstance(event, dict):
            raise BadSignRequest(f"SignRequest must be an object with {', '.join(fields)}")
        wrong = [name for name in fields if not isinstance(event.get(name), str) or not event[name]]
        if wrong:
            raise BadSignRequest(f"SignRequest needs non-empty strings for: {', '.join(wrong)}")
        if event["source_key"] == event["destination_key"]:
            raise BadSignRequest("SignRequest destination_key must differ from source_key: the source is kept")
        return cls(**{name: event[name] for name in fields})


@dataclass(frozen=True)
class SigningKey:
    """The secret's ``c2pa`` entry: the certificate chain and its private key (PEM), and an optional TSA."""

    certificate_chain_pem: str
    private_key_pem: str
    tsa_url: str | None = None


@dataclass(frozen=True)
class SignOutcome:
    manifest_label: str | None = None  # the signed manifest's label
    failure: str | None = None  # why the video could not be signed (no key material quoted)

    def as_result(self) -> dict[str, str | None]:
        return {"manifest_label": self.manifest_label, "failure": self.failure}


def sign_stored_video(s3: S3Client, request: SignRequest, key: SigningKey | None) -> SignOutcome:
    if key is None:
        return SignOutcome(failure="the provider secret has no c2pa.certificate_chain and c2pa.private_key")
    with tempfile.TemporaryDirectory(prefix="sign-") as folder:
        source, signed = Path(folder) / "video.mp4", Path(folder) / "signed.mp4"
        s3.download_file(request.bucket, request.source_key, str(source))
        try:
            manifest = sign_mp4(
                source,
                signed,
                generator=request.generator,
                certificate_chain_pem=key.certificate_chain_pem,
                private_key_pem=key.private_key_pem,
                tsa_url=key.tsa_url,
            )
        except ContentCredentialsError as error:
            return SignOutcome(failure=str(error))
        source.unlink()
        s3.upload_file(str(signed), request.bucket, request.destination_key, ExtraArgs={"ContentType": "video/mp4"})
    return SignOutcome(manifest_label=manifest.label)
