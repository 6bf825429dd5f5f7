"""ValidateMedia: the inputs exist, are what their content says, and are within the provider's limits."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from .errors import InvalidMedia, InvalidRequest
from .media import SIGNATURE_BYTES, check_audio, check_image, wav_duration_seconds
from .models import Job, MediaProbe, ValidatedMedia
from .providers.registry import provider_entry
from .storage import read_head

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HEAD_BYTES = 64 * 1024


def validate_media(job: Job, s3: S3Client) -> ValidatedMedia:
    caps = provider_entry(job.provider).capabilities
    if job.image.s3 is None or (job.audio is not None and job.audio.s3 is None):
        raise InvalidRequest(
            "https:// inputs are not accepted by this release yet; upload the media to the input bucket"
        )
    image = read_head(s3, "image", job.image.s3, HEAD_BYTES)
    image_name = job.image.s3.uri
    image_format = check_image(image_name, image.head[:SIGNATURE_BYTES], image.size, caps)
    width, height = _dimensions(image_name, image.head)
    probes = ValidatedMedia(
        image=MediaProbe(source=image_name, format=image_format, size_bytes=image.size, width=width, height=height)
    )
    if job.audio is not None and job.audio.s3 is not None:
        audio = read_head(s3, "audio", job.audio.s3, HEAD_BYTES)
        audio_name = job.audio.s3.uri
        audio_format = check_audio(audio_name, audio.head[:SIGNATURE_BYTES], audio.size, caps)
        duration = wav_duration_seconds(audio.head) if audio_format == "wav" else None
        probes.audio = MediaProbe(
            source=audio_name, format=audio_format, size_bytes=audio.size, duration_seconds=duration
        )
    return probes


def _dimensions(name: str, head: bytes) -> tuple[int | None, int | None]:
    try:
        with Image.open(io.BytesIO(head)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise InvalidMedia(f"image {name} has an unreadable header: {error}") from error
    if width < 1 or height < 1:
        raise InvalidMedia(f"image {name} declares {width}x{height} pixels")
    return width, height
