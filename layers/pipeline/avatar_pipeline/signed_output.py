"""The output video when C2PA content credentials are configured: the staged provider file labelled S3 to S3,
signed by SignVideo, and the signed file stored as ``video.mp4``, checked like every output.

Signing runs in a function of its own because the C2PA library (c2pa-python, one 20 MiB native library) would
take this one past its size budget; SignVideo has the credentials layer alone. It reads the key from the provider
secret itself, so no key material travels in an invocation. The labelled and signed intermediates live under
``staging/`` beside the provider's file and go with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from . import aws
from .errors import ProviderUnavailable, ResultUnavailable
from .labelling import copy_staged_video, discard_staged_video, label_staged_video
from .s3errors import aws_failure
from .transfer import DEFAULT_PART_BYTES, CopyOutcome

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class SigningFailed(Exception):
    """The manifest could not be signed, and the stack requires labelled (and so signed) outputs."""


@dataclass(frozen=True)
class SignOutcome:
    manifest_label: str | None  # the signed manifest's label
    failure: str | None  # why the video could not be signed


class VideoSigner(Protocol):
    """Signs ``s3://bucket/source_key`` into ``destination_key``."""

    def sign(self, job_id: str, bucket: str, source_key: str, destination_key: str) -> SignOutcome: ...


@dataclass(frozen=True)
class SignerFunction:
    """SignVideo, invoked synchronously (its event and answer: ``content_signing.stored_video``)."""

    function_name: str
    generator: str  # the provider id, e.g. wavespeed/omnihuman-1.5

    def sign(self, job_id: str, bucket: str, source_key: str, destination_key: str) -> SignOutcome:
        event = {
            "job_id": job_id,
            "bucket": bucket,
            "source_key": source_key,
            "destination_key": destination_key,
            "generator": self.generator,
        }
        what = f"invoking {self.function_name} to sign s3://{bucket}/{source_key}"
        try:
            response = aws.signing_lambda().invoke(FunctionName=self.function_name, Payload=json.dumps(event).encode())
            answer: Any = json.loads(response["Payload"].read() or b"null")
        except (ClientError, BotoCoreError) as error:
            raise aws_failure(error, what, permanent=ResultUnavailable) from error
        except ValueError as error:
            raise ProviderUnavailable(f"{what}: its answer is not JSON ({error}) (retried)") from error
        if response.get("FunctionError") or not isinstance(answer, dict):
            detail = (
                answer if not isinstance(answer, dict) else f"{answer.get('errorType')}: {answer.get('errorMessage')}"
            )
            raise ProviderUnavailable(f"{what} failed ({detail}) (retried)")
        label, failure = answer.get("manifest_label"), answer.get("failure")
        if not (isinstance(label, str) and label) and not (isinstance(failure, str) and failure):
            raise ProviderUnavailable(f"{what}: the answer has neither manifest_label nor failure (retried)")
        return SignOutcome(label if isinstance(label, str) else None, failure if isinstance(failure, str) else None)


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
    signer: VideoSigner,
    *,
    job_id: str,
    must_sign: bool,
    part_bytes: int = DEFAULT_PART_BYTES,
    deadline: float | None = None,
) -> SignedVideo:
    labelled_key, signed_key = _sibling(staged_key, "labelled"), _sibling(staged_key, "signed")
    try:
        source = staged_key
        if label_json is not None:
            label_staged_video(
                s3, bucket, staged_key, labelled_key, label_json, part_bytes=part_bytes, deadline=deadline
            )
            source = labelled_key
        outcome = signer.sign(job_id, bucket, source, signed_key)
        if outcome.failure is not None and must_sign:
            raise SigningFailed(outcome.failure)
        stored = signed_key if outcome.failure is None else source
        copied = copy_staged_video(s3, bucket, stored, video_key, part_bytes=part_bytes, deadline=deadline)
    finally:
        for key in (labelled_key, signed_key):
            discard_staged_video(s3, bucket, key)
    return SignedVideo(copied, outcome.manifest_label, outcome.failure)


def _sibling(staged_key: str, name: str) -> str:
    """``staging/<job>/<attempt>/provider.mp4`` → ``staging/<job>/<attempt>/<name>.mp4``."""
    folder, _, _ = staged_key.rpartition("/")
    return f"{folder}/{name}.mp4"
