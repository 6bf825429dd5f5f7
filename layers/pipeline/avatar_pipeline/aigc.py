"""The GB 45438-2025 implicit label of a job's video: its seven fields, from the request's ``aigc_meta`` or the
stack's defaults (contract: *AIGC labelling and content credentials*)."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .models import Job

MAX_FIELD_CHARS = 256


class AigcDefaults(BaseModel):
    """The stack's parameters ``AigcContentProducer`` and ``AigcContentPropagator``."""

    content_producer: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    content_propagator: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)


class AigcLabel(BaseModel):
    """The seven fields, named and ordered as the standard names them."""

    model_config = ConfigDict(extra="forbid")

    Label: Literal["1"] = "1"
    ContentProducer: str = Field(max_length=MAX_FIELD_CHARS)
    ProduceID: str = Field(max_length=MAX_FIELD_CHARS)
    ReservedCode1: str = Field("", max_length=MAX_FIELD_CHARS)
    ContentPropagator: str = Field(max_length=MAX_FIELD_CHARS)
    PropagateID: str = Field("", max_length=MAX_FIELD_CHARS)
    ReservedCode2: str = Field("", max_length=MAX_FIELD_CHARS)

    def as_json(self) -> str:
        """The metadata value: a JSON object, fields in the standard's order, non-ASCII kept readable."""
        return json.dumps(self.model_dump(), ensure_ascii=False, separators=(",", ":"))


def implicit_label(job: Job, defaults: AigcDefaults) -> AigcLabel:
    """The request's ``aigc_meta`` where it has a value, the stack's defaults otherwise, the job id as ProduceID."""
    meta = job.request.aigc_meta
    if meta is None:
        return AigcLabel(
            ContentProducer=defaults.content_producer,
            ProduceID=job.job_id,
            ContentPropagator=defaults.content_propagator,
        )
    return AigcLabel(
        ContentProducer=meta.content_producer or defaults.content_producer,
        ProduceID=meta.producer_id,
        ContentPropagator=meta.content_propagator,
        PropagateID=meta.propagate_id or "",
    )
