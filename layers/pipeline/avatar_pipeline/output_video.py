"""``video.mp4`` from the provider's staged file: labelled S3 to S3, and signed by SignVideo when C2PA content
credentials are configured (``signed_output``). A video that cannot be labelled, or signed while the label is required,
is refused with the contract's ``ResultUnavailable`` and never stored as ``video.mp4``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .aigc import AigcLabel
from .errors import ProviderUnavailable, ResultUnavailable
from .labelling import LabelRefused, discard_staged_video, label_staged_video
from .signed_output import SigningFailed, VideoSigner, signed_video
from .transfer import CopyOutcome, OutOfTime

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class FinishedVideo:
    copied: CopyOutcome
    c2pa: str | None = None  # the C2PA manifest's label
    c2pa_failure: str | None = None  # why signing failed, when the label (and so signing) was not required


@dataclass(frozen=True)
class Finishing:
    """What is done to the provider's file before it becomes video.mp4."""

    label: AigcLabel | None
    signer: VideoSigner | None

    @property
    def needed(self) -> bool:
        return self.label is not None or self.signer is not None


def finish_staged_video(
    s3: S3Client,
    bucket: str,
    staged_key: str,
    video_key: str,
    finishing: Finishing,
    *,
    job_id: str,
    part_bytes: int,
    deadline: float,
) -> FinishedVideo:
    label_json = finishing.label.as_json() if finishing.label is not None else None
    try:
        if finishing.signer is None:
            copied = label_staged_video(
                s3, bucket, staged_key, video_key, label_json or "", part_bytes=part_bytes, deadline=deadline
            )
            finished = FinishedVideo(copied)
        else:
            signed = signed_video(
                s3,
                bucket,
                staged_key,
                video_key,
                label_json,
                finishing.signer,
                job_id=job_id,
                must_sign=finishing.label is not None,
                part_bytes=part_bytes,
                deadline=deadline,
            )
            finished = FinishedVideo(signed.copied, signed.manifest_label, signed.failure)
    except LabelRefused as error:
        discard_staged_video(s3, bucket, staged_key)
        raise ResultUnavailable(f"{error}; with AigcLabel=required it is not stored unlabelled") from error
    except SigningFailed as error:
        discard_staged_video(s3, bucket, staged_key)
        raise ResultUnavailable(
            f"the video's C2PA content credentials could not be signed ({error}); with AigcLabel=required it is "
            "not stored unsigned"
        ) from error
    except OutOfTime as error:
        raise ProviderUnavailable(f"finishing the video ran out of the function's time ({error})") from error
    discard_staged_video(s3, bucket, staged_key)
    return finished
