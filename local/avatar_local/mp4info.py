"""What an MP4 contains: brand, duration, picture size and streams."""

import io
from dataclasses import dataclass

import av


@dataclass(frozen=True)
class Mp4Info:
    major_brand: str
    duration_seconds: float
    width: int
    height: int
    has_video: bool
    has_audio: bool
    size: int


def inspect_mp4(data: bytes) -> Mp4Info:
    """Raises ValueError if the data does not start with an ``ftyp`` box or cannot be demuxed."""
    if data[4:8] != b"ftyp":
        raise ValueError(f"not an MP4: the first box is {data[4:8]!r}, not b'ftyp'")
    try:
        with av.open(io.BytesIO(data), "r") as container:
            video = container.streams.video[0] if container.streams.video else None
            duration = container.duration
            has_audio = bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise ValueError(f"not an MP4: {exc}") from exc
    return Mp4Info(
        major_brand=data[8:12].decode("ascii", errors="replace"),
        duration_seconds=duration / av.time_base if duration is not None else 0.0,
        width=video.width if video else 0,
        height=video.height if video else 0,
        has_video=video is not None,
        has_audio=has_audio,
        size=len(data),
    )
