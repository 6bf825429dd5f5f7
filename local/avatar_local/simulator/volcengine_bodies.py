"""Volcengine's request bodies; a problem is business code 50200 with HTTP 400, the message naming it."""

from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from .bodies import HttpUrl, RequestBody

MAX_SEED = 2147483647
MAX_MASKS = 5
META_TEXT_CHARS = 256
_META_TEXT = f"req_json.{{field}} must be a string of at most {META_TEXT_CHARS} characters"


def _mask_list(value: object) -> object:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_MASKS:
        raise PydanticCustomError("mask_list", f"must be a list of 1 to {MAX_MASKS} URLs")
    return value


class ImageBody(RequestBody):
    """Subject recognition (CVSubmitTask) and detection (CVProcess)."""

    req_key: str
    image_url: HttpUrl


class VideoBody(ImageBody):
    problems: ClassVar = {
        "seed": f"seed must be an integer from -1 to {MAX_SEED}",
        "output_resolution": "output_resolution must be 720 or 1080",
    }

    audio_url: HttpUrl
    mask_url: Annotated[list[HttpUrl], BeforeValidator(_mask_list)] | None = None
    seed: int = Field(-1, ge=-1, le=MAX_SEED)
    prompt: str = ""
    output_resolution: Literal[720, 1080] = 1080
    pe_fast_mode: bool = False


class ResultBody(RequestBody):
    problems: ClassVar = {
        "task_id": "task_id must be a non-empty string",
        "req_json": "req_json must be a JSON string",
    }

    req_key: str
    task_id: str = Field(min_length=1)
    req_json: str | None = None


class AigcMeta(RequestBody):
    content_producer: str = Field("", max_length=META_TEXT_CHARS)
    producer_id: str = Field("", max_length=META_TEXT_CHARS)
    content_propagator: str = Field("", max_length=META_TEXT_CHARS)
    propagate_id: str = Field("", max_length=META_TEXT_CHARS)


class ReqJson(RequestBody):
    """CVGetResult's ``req_json``, a JSON string: ``aigc_meta`` asks for the implicit AIGC label."""

    problems: ClassVar = {
        "json_invalid": "req_json is not valid JSON: {msg}",
        "model_type": "req_json must encode a JSON object",
        "aigc_meta": "req_json.aigc_meta must be an object",
        "string_type": _META_TEXT,
        "string_too_long": _META_TEXT,
    }

    aigc_meta: AigcMeta | None = None

    @property
    def tagged(self) -> bool:
        """Whether the video gets the label: ``producer_id`` and ``content_propagator`` are both given."""
        meta = self.aigc_meta
        return meta is not None and bool(meta.producer_id) and bool(meta.content_propagator)
