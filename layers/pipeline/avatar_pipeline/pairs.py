"""Pair drops: ``drop/<stem>.<image ext>`` plus ``drop/<stem>.<audio ext>`` is a job with default settings.

Whichever file arrives second completes the pair. Each arrival looks for its partner; both may find the
pair when they arrive together, so the execution is named after the pair as it is now (keys, ETags and upload
times) and Step Functions starts it once; ``Claim`` stops any later duplicate. The job id is the stem plus a hash
of the keys and ETags (``alice-3f9a1c2e``): re-dropping the same content after a failure starts a new execution
(new upload times) of the same job, which ``Claim`` turns into a new attempt.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .job_ids import derived_job_id
from .models import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

DROP_PREFIX = "drop/"
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp"})
AUDIO_EXTENSIONS = frozenset({".mp3", ".wav", ".m4a", ".aac"})
PAIR_DETAIL_TYPE = "Avatar Pair Dropped"
PAIR_SOURCE = "avatar.pipeline"


@dataclass(frozen=True)
class DroppedObject:
    key: str
    etag: str
    last_modified: str


@dataclass(frozen=True)
class Pair:
    bucket: str
    image: DroppedObject
    audio: DroppedObject

    @property
    def job_id(self) -> str:
        fingerprint = f"{self.bucket}/{self.image.key}@{self.image.etag}|{self.audio.key}@{self.audio.etag}"
        return derived_job_id(posixpath.basename(posixpath.splitext(self.image.key)[0]), fingerprint)

    @property
    def execution_name(self) -> str:
        """This drop of the pair: both arrivals of one drop agree on it; a re-drop (new uploads) differs."""
        uploads = f"{self.image.last_modified}|{self.audio.last_modified}"
        return f"{self.job_id}-{hashlib.sha256(uploads.encode()).hexdigest()[:12]}"

    def execution_input(self) -> dict[str, Any]:
        return {
            "source": PAIR_SOURCE,
            "detail-type": PAIR_DETAIL_TYPE,
            "detail": {
                "image": S3Location(bucket=self.bucket, key=self.image.key).uri,
                "audio": S3Location(bucket=self.bucket, key=self.audio.key).uri,
                "job_id": self.job_id,
            },
        }


def media_kind(key: str) -> tuple[str, Literal["image", "audio"]] | None:
    """(stem, kind) of a dropped file, extensions matched case-insensitively; None if it is neither."""
    if not key.startswith(DROP_PREFIX):
        return None
    stem, extension = posixpath.splitext(key)
    if not posixpath.basename(stem):
        return None
    extension = extension.lower()
    if extension in IMAGE_EXTENSIONS:
        return stem, "image"
    if extension in AUDIO_EXTENSIONS:
        return stem, "audio"
    return None


def find_pair(s3: S3Client, bucket: str, key: str) -> Pair | None:
    """The pair ``key`` belongs to, if its partner is there too (the newest of each kind when several are)."""
    found = media_kind(key)
    if found is None:
        return None
    stem, _ = found
    newest: dict[str, tuple[str, DroppedObject]] = {}
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{stem}.")
    for page in pages:
        for item in page.get("Contents", []):
            candidate = media_kind(item["Key"])
            if candidate is None or candidate[0] != stem:
                continue
            stamp = item["LastModified"].isoformat()
            dropped = DroppedObject(key=item["Key"], etag=item["ETag"].strip('"'), last_modified=stamp)
            if candidate[1] not in newest or stamp > newest[candidate[1]][0]:
                newest[candidate[1]] = (stamp, dropped)
    if "image" not in newest or "audio" not in newest:
        return None
    return Pair(bucket=bucket, image=newest["image"][1], audio=newest["audio"][1])


def start_pair(sfn: SFNClient, state_machine_arn: str, pair: Pair) -> bool:
    """Starts the pair's job; False when an execution of the same name already exists (the other arrival won)."""
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn, name=pair.execution_name, input=json.dumps(pair.execution_input())
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return False
    return True
