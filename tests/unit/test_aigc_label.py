"""The implicit AIGC label's fields (avatar_pipeline.aigc): from the request's aigc_meta, else the stack's
defaults, the job id as ProduceID; and the request's aigc_meta as the standard and Volcengine require it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from avatar_pipeline.aigc import AigcDefaults, AigcLabel, implicit_label
from avatar_pipeline.models import Job, JobRequest
from pydantic import ValidationError

DEFAULTS = AigcDefaults(content_producer="Studio Co. 91310000X", content_propagator="Studio CDN")
FIELDS = ["Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID", "ReservedCode2"]


def _job(aigc_meta: dict[str, Any] | None = None) -> Job:
    request: dict[str, Any] = {"image": "a.png", "audio": "a.wav"}
    if aigc_meta is not None:
        request["aigc_meta"] = aigc_meta
    return Job.model_validate(
        {
            "job_id": "j-1",
            "provider": "wavespeed/omnihuman-1.5",
            "image": {"s3": {"bucket": "in", "key": "a.png"}},
            "audio": {"s3": {"bucket": "in", "key": "a.wav"}},
            "request": request,
            "trigger": "console",
            "requested_at": datetime(2025, 3, 1, tzinfo=UTC),
        }
    )


def test_without_aigc_meta_the_stack_defaults_and_the_job_id_label_it() -> None:
    label = implicit_label(_job(), DEFAULTS)
    assert json.loads(label.as_json()) == {
        "Label": "1",
        "ContentProducer": "Studio Co. 91310000X",
        "ProduceID": "j-1",
        "ReservedCode1": "",
        "ContentPropagator": "Studio CDN",
        "PropagateID": "",
        "ReservedCode2": "",
    }
    assert list(json.loads(label.as_json())) == FIELDS


def test_the_request_s_aigc_meta_wins_field_by_field() -> None:
    meta = {"producer_id": "p-7", "content_propagator": "Partner", "propagate_id": "share-9"}
    label = implicit_label(_job(meta), DEFAULTS)
    assert (label.ContentProducer, label.ProduceID, label.ContentPropagator, label.PropagateID) == (
        "Studio Co. 91310000X",
        "p-7",
        "Partner",
        "share-9",
    )
    meta["content_producer"] = "其他公司"
    assert "其他公司" in implicit_label(_job(meta), DEFAULTS).as_json()  # kept readable, not \\u-escaped


@pytest.mark.parametrize(
    ("meta", "problem"),
    [
        ({"content_propagator": "x"}, "producer_id"),
        ({"producer_id": "x"}, "content_propagator"),
        ({"producer_id": "x" * 257, "content_propagator": "y"}, "producer_id"),
        ({"producer_id": "x", "content_propagator": "y", "propagate_id": "z" * 257}, "propagate_id"),
        ({"producer_id": "x", "content_propagator": "y", "watermark": "z"}, "watermark"),
    ],
)
def test_aigc_meta_is_refused_as_the_standard_and_volcengine_require(meta: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        JobRequest.model_validate({"image": "a.png", "audio": "a.wav", "aigc_meta": meta})


def test_a_label_field_is_at_most_256_characters() -> None:
    with pytest.raises(ValidationError, match="ContentProducer"):
        AigcLabel(ContentProducer="x" * 257, ProduceID="p", ContentPropagator="c")


def test_the_stack_defaults_are_required_and_bounded() -> None:
    with pytest.raises(ValidationError, match="content_producer"):
        AigcDefaults(content_producer="", content_propagator="B")
    with pytest.raises(ValidationError, match="content_propagator"):
        AigcDefaults(content_producer="A", content_propagator="x" * 257)
