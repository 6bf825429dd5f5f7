"""The output video when C2PA content credentials are configured: the staged provider file brought to ``/tmp``,
labelled there, signed with a C2PA manifest (``content_credentials``), and uploaded as ``video.mp4``, the one
object that appears. At most two copies of the video are on disk at once."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .content_credentials import ContentCredentialsError, sign_mp4
from .labelling import STREAM_CHUNK_BYTES, LabelRefused
from .mp4_boxes import Mp4Error
from .mp4_label_apply import label_file
from .s3errors import aws_failure
from .transfer import DEFAULT_PART_BYTES, CopyOutcome, Mp4BodyCheck, copy_stream_to_s3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class SigningFailed(Exception):
    """The manifest could not be signed, and the stack requires labelled (and so signed) outputs."""


@dataclass(frozen=True)
class C2paSigner:
    generator: str  # the provider id, e.g. wavespeed/omnihuman-1.5
    certificate_chain_pem: str
    private_key_pem: str
    tsa_url: str | None = None  # a timestamp authority, only if the secret names one (no network otherwise)


@dataclass(frozen=True)
class SignedVideo:
    copied: CopyOutcome
    manifest_label: str | None
    failure: str | None  # why it is unsigned, when signing failed and was not required


def signed_video(
    s3: S3Client,
    bucket: str,
    staged_key: str,
    video_key: str,
    label_json: str | None,
    signer: C2paSigner,
    *,
    must_sign: bool,
    part_bytes: int = DEFAULT_PART_BYTES,
    deadline: float | None = None,
) -> SignedVideo:
    with tempfile.TemporaryDirectory(prefix="persist-") as folder:
        current = Path(folder) / "provider.mp4"
        try:
            s3.download_file(bucket, staged_key, str(current))
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, f"reading s3://{bucket}/{staged_key}") from error
        if label_json is not None:
            current = _labelled(current, Path(folder) / "labelled.mp4", label_json)
        manifest_label, failure = None, None
        try:
            signed = Path(folder) / "signed.mp4"
            manifest_label = sign_mp4(
                current,
                signed,
                generator=signer.generator,
                certificate_chain_pem=signer.certificate_chain_pem,
                private_key_pem=signer.private_key_pem,
                tsa_url=signer.tsa_url,
            ).label
            current.unlink()
            current = signed
        except ContentCredentialsError as error:
            if must_sign:
                raise SigningFailed(str(error)) from error
            failure = str(error)
        copied = copy_stream_to_s3(
            _chunks(current),
            s3=s3,
            bucket=bucket,
            key=video_key,
            declared_length=current.stat().st_size,
            check=Mp4BodyCheck(),
            part_bytes=part_bytes,
            deadline=deadline,
        )
    return SignedVideo(copied, manifest_label, failure)


def _labelled(source: Path, destination: Path, label_json: str) -> Path:
    try:
        label_file(source, destination, label_json)
    except Mp4Error as error:
        raise LabelRefused(f"the provider's video cannot be labelled: {error}") from error
    source.unlink()
    return destination


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(STREAM_CHUNK_BYTES):
            yield chunk
