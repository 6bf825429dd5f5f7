"""Kling's checks of a create's media, made while the create is answered; a problem fails the task it becomes."""

import io
from dataclasses import dataclass

import av
from PIL import Image

from .media import DownloadError, MediaRef, download
from .render import SAMPLE_RATE, MediaDecodeError, decode_audio

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_AUDIO_BYTES = 5 * 1024 * 1024
MIN_IMAGE_SIDE = 300
ASPECT_RANGE = (1 / 2.5, 2.5)
AUDIO_SECONDS_RANGE = (2.0, 300.0)
IMAGE_FORMATS = frozenset({"JPEG", "PNG"})
# av's demuxer names of mp3, wav, m4a and aac (ADTS) files.
AUDIO_CONTAINERS = frozenset({"mp3", "wav", "aac", "mov,mp4,m4a,3gp,3g2,mj2"})


class MediaProblem(Exception):
    pass


@dataclass(frozen=True)
class CheckedMedia:
    image: bytes = b""
    audio: bytes = b""
    problem: str | None = None
    """What fails the task, if anything."""
    seconds: float | None = None
    """The audio's duration."""


def check_media(image: MediaRef, audio: MediaRef, *, registered_audio: bool, timeout: float) -> CheckedMedia:
    """Download the inputs and check them; audio registered through the admin API skips the size and format checks."""
    try:
        image_bytes = _download("image", image, MAX_IMAGE_BYTES, timeout)
        _check_image(image_bytes)
        audio_bytes = _download("sound_file", audio, None if registered_audio else MAX_AUDIO_BYTES, timeout)
        seconds = _check_audio(audio_bytes, check_container=not registered_audio)
    except (DownloadError, MediaProblem) as problem:
        return CheckedMedia(problem=str(problem))
    return CheckedMedia(image_bytes, audio_bytes, None, seconds)


def duration(audio: bytes) -> float:
    return len(decode_audio(audio)) / SAMPLE_RATE


def _download(what: str, ref: MediaRef, limit: int | None, timeout: float) -> bytes:
    data = download(what, ref, timeout=timeout, limit=limit)
    if limit is not None and len(data) > limit:
        raise MediaProblem(f"{what} is larger than {limit // (1024 * 1024)} MB")
    return data


def _check_image(data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaProblem(f"image could not be decoded: {exc}") from exc
    if kind not in IMAGE_FORMATS:
        raise MediaProblem(f"image format {kind} is not supported: use jpg or png")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise MediaProblem(f"image is {width}x{height} px: each side must be at least {MIN_IMAGE_SIDE} px")
    if not ASPECT_RANGE[0] <= width / height <= ASPECT_RANGE[1]:
        raise MediaProblem(f"image aspect ratio {width}:{height} is outside 1:2.5 to 2.5:1")


def _check_audio(data: bytes, *, check_container: bool) -> float:
    if check_container:
        try:
            with av.open(io.BytesIO(data), "r") as container:
                container_name = container.format.name
        except av.FFmpegError as exc:
            raise MediaProblem(f"sound_file could not be decoded: {exc}") from exc
        if container_name not in AUDIO_CONTAINERS:
            raise MediaProblem(f"sound_file format {container_name} is not supported: use mp3, wav, m4a or aac")
    try:
        seconds = duration(data)
    except MediaDecodeError as exc:
        raise MediaProblem(f"sound_file {exc}") from exc
    low, high = AUDIO_SECONDS_RANGE
    if not low <= seconds <= high:
        raise MediaProblem(f"audio is {seconds:.1f} s long: it must be between {low:g} and {high:g} s")
    return seconds
