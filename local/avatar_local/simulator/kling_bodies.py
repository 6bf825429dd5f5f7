"""Kling's request bodies: the avatar create (refused with code 1201 and these messages) and the admin audio spec."""

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from .bodies import Blank, Media, RequestBody
from .media import loopback_url

MAX_PROMPT_CHARS = 2500
LoopbackUrl = Annotated[str, PlainValidator(loopback_url)]


def _watermark_enabled(value: object) -> bool:
    """``watermark_info`` is exactly ``{"enabled": true|false}``."""
    try:
        return Watermark.model_validate(value).enabled
    except ValueError:
        raise PydanticCustomError("watermark", 'must be an object {"enabled": true|false}') from None


class Watermark(RequestBody):
    enabled: bool


class AvatarBody(RequestBody):
    problems: ClassVar = {
        "model_name": "model_name is not supported by the avatar API",
        "not_text": "invalid {field}: must be a string",
        "data_prefix": "invalid {field}: do not add a data: prefix, send the raw base64 string",
        "not_base64": "invalid {field}: must be a URL or base64-encoded data",
        "audio_id": "invalid audio_id: {input!r} not found",
        "prompt": f"prompt must be a string of at most {MAX_PROMPT_CHARS} characters",
        "mode": "mode must be one of: std, pro",
        "callback_url": "callback_url must be an http(s) URL on this machine (127.0.0.1, [::1] or localhost)",
        "external_task_id": "external_task_id must be a non-empty string",
    }

    image: Media
    audio_id: Annotated[str | None, Blank] = None
    sound_file: Annotated[Media | None, Blank] = None
    prompt: str = Field("", max_length=MAX_PROMPT_CHARS)
    mode: Literal["std", "pro"] = "std"
    watermark_info: Annotated[bool, PlainValidator(_watermark_enabled)] = False
    callback_url: LoopbackUrl | None = None
    external_task_id: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_audio(self) -> Self:
        if (self.audio_id is None) == (self.sound_file is None):
            raise PydanticCustomError("audio", "exactly one of audio_id or sound_file is required")
        return self


class GeneratedAudio(RequestBody):
    """``POST /_simulator/kling/audio`` as JSON: speech-like audio of this length and format."""

    problems: ClassVar = {
        "seconds": "seconds must be a number in (0, 600]",
        "format": "format must be one of: wav, mp3, m4a",
        "model_type": 'the JSON body must be an object with "seconds" and optionally "format"',
    }

    seconds: float = Field(4.0, gt=0, le=600)
    format: Literal["wav", "mp3", "m4a"] = "wav"
