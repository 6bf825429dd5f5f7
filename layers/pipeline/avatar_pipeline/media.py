"""Media type detection by content signature, and the per-provider limits applied before anything is billed."""

from __future__ import annotations

from .capabilities import ProviderCapabilities
from .errors import InvalidMedia

SIGNATURE_BYTES = 64
# An estimated duration (ADTS AAC or MP3 without a frame count, over 8 MiB) is refused only when it is past a limit
# by more than this fraction: sampled frames put speech within about 5 % (13 % at worst in the tests).
ESTIMATE_TOLERANCE = 0.10


def sniff_image(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"avif"):
        return head[8:12].decode()
    return None


def sniff_audio(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 in (0xE2, 0xE4, 0xE6)):
        return "mp3"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    return None


def check_image(name: str, head: bytes, size: int, caps: ProviderCapabilities) -> str:
    if size == 0:
        raise InvalidMedia(f"image {name} is empty (0 bytes)")
    found = sniff_image(head)
    if found is None and sniff_audio(head) is not None:
        raise InvalidMedia(
            f"image {name} is {sniff_audio(head)} audio, not an image; "
            f"{caps.provider_id} accepts {_formats(caps.image_formats)}"
        )
    if found is None:
        raise InvalidMedia(
            f"image {name} is not a recognised image (content starts with {head[:8].hex()}); "
            f"{caps.provider_id} accepts {_formats(caps.image_formats)}"
        )
    if found not in caps.image_formats:
        raise InvalidMedia(f"image {name} is {found}; {caps.provider_id} accepts {_formats(caps.image_formats)}")
    if caps.max_image_bytes is not None and size > caps.max_image_bytes:
        raise InvalidMedia(
            f"image {name} is {_mib(size)}; {caps.provider_id} accepts at most {_mib(caps.max_image_bytes)}"
        )
    return found


def check_audio(name: str, head: bytes, size: int, caps: ProviderCapabilities) -> str:
    if size == 0:
        raise InvalidMedia(f"audio {name} is empty (0 bytes)")
    found = sniff_audio(head)
    if found is None and sniff_image(head) is not None:
        raise InvalidMedia(
            f"audio {name} is a {sniff_image(head)} image, not audio; "
            f"{caps.provider_id} accepts {_formats(caps.audio_formats)}"
        )
    if found is None:
        raise InvalidMedia(
            f"audio {name} is not a recognised audio file (content starts with {head[:8].hex()}); "
            f"{caps.provider_id} accepts {_formats(caps.audio_formats)}"
        )
    if found not in caps.audio_formats:
        raise InvalidMedia(f"audio {name} is {found}; {caps.provider_id} accepts {_formats(caps.audio_formats)}")
    if caps.max_audio_bytes is not None and size > caps.max_audio_bytes:
        raise InvalidMedia(
            f"audio {name} is {_mib(size)}; {caps.provider_id} accepts at most {_mib(caps.max_audio_bytes)}"
        )
    return found


def check_audio_duration(
    name: str, seconds: float | None, caps: ProviderCapabilities, *, estimated: bool = False
) -> None:
    if seconds is None:
        return
    slack = ESTIMATE_TOLERANCE if estimated else 0.0
    length = f"about {seconds:.1f} s (estimated from its frames)" if estimated else f"{seconds:.1f} s"
    if caps.max_audio_seconds is not None and seconds >= caps.max_audio_seconds * (1 + slack):
        raise InvalidMedia(f"audio {name} is {length}; {caps.provider_id} accepts under {caps.max_audio_seconds:g} s")
    if caps.min_audio_seconds is not None and seconds < caps.min_audio_seconds * (1 - slack):
        raise InvalidMedia(f"audio {name} is {length}; {caps.provider_id} needs at least {caps.min_audio_seconds:g} s")


def _formats(formats: frozenset[str]) -> str:
    return ", ".join(sorted(formats))


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
