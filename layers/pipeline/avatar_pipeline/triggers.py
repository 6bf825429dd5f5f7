"""The triggers Intake accepts, one model each, told apart by the event's ``source`` and ``detail-type`` (a union
discriminated as in Powertools' parser examples): an S3 "Object Created" event (a manifest), a pair drop, a batch
row, the custom event, or anything else, which is a console input: the job request itself."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Discriminator, Tag, TypeAdapter, ValidationError

from .batch_items import BatchItem
from .errors import InvalidRequest, describe_validation
from .eventbridge import EventBridgeEvent, ObjectCreatedEvent
from .pairs import PAIR_DETAIL_TYPE, PAIR_SOURCE

CUSTOM_EVENT_SOURCE = "avatar.pipeline"
CUSTOM_EVENT_DETAIL_TYPE = "Avatar Video Requested"
BATCH_ROW_DETAIL_TYPE = "Avatar Batch Row"


class PairTrigger(BaseModel):
    """PairDrop's event: its detail is the job request (image and audio keys), checked as one."""

    detail: Any = None


class BatchRowTrigger(BaseModel):
    detail: BatchItem


_KINDS: dict[tuple[Any, Any], str] = {
    ("aws.s3", "Object Created"): "manifest",
    (PAIR_SOURCE, PAIR_DETAIL_TYPE): "pair",
    (PAIR_SOURCE, BATCH_ROW_DETAIL_TYPE): "batch",
    (CUSTOM_EVENT_SOURCE, CUSTOM_EVENT_DETAIL_TYPE): "event",
}
# How a malformed trigger is named, and how many leading parts of an error's path are ours, not the caller's.
_NAMES = {"manifest": ("S3 event", 1), "batch": ("batch row", 2), "event": ("custom event", 1)}


def trigger_kind(event: Any) -> str:
    if not isinstance(event, dict):
        return "console"
    return _KINDS.get((event.get("source"), event.get("detail-type")), "console")


Trigger = ObjectCreatedEvent | PairTrigger | BatchRowTrigger | EventBridgeEvent | dict[str, Any]
_TRIGGERS: TypeAdapter[Trigger] = TypeAdapter(
    Annotated[
        Annotated[ObjectCreatedEvent, Tag("manifest")]
        | Annotated[PairTrigger, Tag("pair")]
        | Annotated[BatchRowTrigger, Tag("batch")]
        | Annotated[EventBridgeEvent, Tag("event")]
        | Annotated[dict[str, Any], Tag("console")],
        Discriminator(trigger_kind),
    ]
)


def parse_trigger(event: dict[str, Any]) -> Trigger:
    """The execution input as the trigger it is; a malformed one is an ``InvalidRequest`` naming its field."""
    try:
        return _TRIGGERS.validate_python(event)
    except ValidationError as error:
        name, skip = _NAMES.get(trigger_kind(event), ("execution input", 1))
        raise InvalidRequest(f"malformed {name}: {describe_validation(error, skip=skip)}") from error
