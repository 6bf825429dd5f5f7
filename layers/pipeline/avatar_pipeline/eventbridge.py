"""The EventBridge events the pipeline is started by: the envelope, and S3's "Object Created" event.

Field for field what Powertools' parser models (``EventBridgeModel``, ``S3EventNotificationEventBridgeModel``)
require of the fields read here, and their names. Powertools' models package imports its every event model when
one is imported, a twelfth of a handler's import (tests/unit/test_layers.py); these are the two the pipeline uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat


class EventBridgeEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]


class S3Bucket(BaseModel):
    name: str


class S3Object(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    key: str
    size: NonNegativeFloat | None = None
    etag: str = ""
    version_id: str | None = Field(default=None, alias="version-id")
    sequencer: str | None = None


class ObjectCreated(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    version: str
    bucket: S3Bucket
    object: S3Object
    request_id: str = Field(alias="request-id")
    requester: str


class ObjectCreatedEvent(EventBridgeEvent):
    detail: ObjectCreated  # type: ignore[assignment]  # the envelope's detail, as S3 writes it
