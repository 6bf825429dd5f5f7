"""The job request contract (``JobRequest``) and the AIGC metadata model."""

from typing import Any

import pytest
from avatar_pipeline.models import AigcMeta, Job, JobRequest, MediaSource, S3Location
from pydantic import ValidationError

BASE: dict[str, Any] = {"image": "alice.png", "audio": "alice.mp3"}


def _request(**fields: Any) -> JobRequest:
    return JobRequest.model_validate({**BASE, **fields})


def _errors(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        JobRequest.model_validate(body)
    return str(caught.value)


def test_minimal_request_has_contract_defaults() -> None:
    request = JobRequest.model_validate(BASE)
    assert request.image == "alice.png"
    assert request.audio == "alice.mp3"
    assert request.provider is None
    assert request.options == {}
    assert request.output_prefix == ""
    assert request.job_id is None


def test_full_request_round_trips_every_contract_field() -> None:
    body = {
        "provider": "volcengine/omnihuman-1.5",
        "image": "alice.png",
        "audio": "alice.mp3",
        "prompt": "speaks warmly, slow push-in",
        "seed": 42,
        "options": {"output_resolution": 720, "pe_fast_mode": True},
        "aigc_meta": {
            "content_producer": "studio",
            "producer_id": "p-1",
            "content_propagator": "cdn",
            "propagate_id": "x-9",
        },
        "output_prefix": "campaign-7/",
        "job_id": "optional-caller-chosen-id",
        "max_cost_usd": 2.5,
    }
    assert JobRequest.model_validate(body).model_dump(mode="json") == body


def test_image_is_required() -> None:
    assert "image" in _errors({"audio": "alice.mp3"})


def test_empty_image_is_rejected() -> None:
    assert "image" in _errors({"image": "", "audio": "alice.mp3"})


def test_audio_is_required_without_an_audio_id() -> None:
    assert "audio is required" in _errors({"image": "alice.png"})


def test_audio_id_option_replaces_audio() -> None:
    request = JobRequest.model_validate({"image": "alice.png", "options": {"audio_id": "voice-1"}})
    assert request.audio is None
    assert request.options == {"audio_id": "voice-1"}


def test_audio_and_audio_id_together_are_rejected() -> None:
    message = _errors({**BASE, "options": {"audio_id": "voice-1"}})
    assert "either audio or options.audio_id, not both" in message


def test_unknown_field_is_rejected() -> None:
    message = _errors({**BASE, "voice": "alice.mp3"})
    assert "voice" in message
    assert "extra_forbidden" in message or "Extra inputs" in message


@pytest.mark.parametrize("prefix", ["", "campaign-7/", "a/b/c/", "x_y.z/(1)/", "A!*'()/"])
def test_valid_output_prefixes(prefix: str) -> None:
    assert _request(output_prefix=prefix).output_prefix == prefix


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("campaign", "must end with '/'"),
        ("/campaign/", "must not start with '/'"),
        ("/", "must not start with '/'"),
        ("a/../b/", "empty, '.' or '..' segments"),
        ("../", "empty, '.' or '..' segments"),
        ("./a/", "empty, '.' or '..' segments"),
        ("a/./", "empty, '.' or '..' segments"),
        ("a//b/", "empty, '.' or '..' segments"),
        ("a b/", "may only contain"),
        ("caf\u00e9/", "may only contain"),
        ("a\\b/", "may only contain"),
        ("a?b/", "may only contain"),
    ],
)
def test_invalid_output_prefixes(prefix: str, reason: str) -> None:
    message = _errors({**BASE, "output_prefix": prefix})
    assert "output_prefix" in message
    assert reason in message


def test_output_prefix_length_is_capped() -> None:
    assert _request(output_prefix="a" * 255 + "/").output_prefix.endswith("/")
    assert "output_prefix" in _errors({**BASE, "output_prefix": "a" * 256 + "/"})


@pytest.mark.parametrize("job_id", ["a", "A1", "job-1_2.3", "0" * 64, "a.b"])
def test_valid_job_ids(job_id: str) -> None:
    assert _request(job_id=job_id).job_id == job_id


@pytest.mark.parametrize(
    "job_id",
    ["", "-leading-dash", ".hidden", "_x", "a..b", "has space", "slash/inside", "a" * 65, "caf\u00e9", "x\n"],
)
def test_invalid_job_ids(job_id: str) -> None:
    message = _errors({**BASE, "job_id": job_id})
    assert "job_id" in message
    assert "1-64 letters, digits" in message


@pytest.mark.parametrize("seed", [-1, 0, 42, 2_147_483_647])
def test_seed_within_bounds(seed: int) -> None:
    assert _request(seed=seed).seed == seed


@pytest.mark.parametrize("seed", [-2, 2_147_483_648])
def test_seed_out_of_bounds(seed: int) -> None:
    assert "seed" in _errors({**BASE, "seed": seed})


def test_prompt_length_is_capped() -> None:
    assert _request(prompt="p" * 2500).prompt == "p" * 2500
    assert "prompt" in _errors({**BASE, "prompt": "p" * 2501})


def test_aigc_meta_requires_producer_id_and_content_propagator() -> None:
    AigcMeta.model_validate({"producer_id": "p", "content_propagator": "c"})
    for missing in ("producer_id", "content_propagator"):
        body = {"producer_id": "p", "content_propagator": "c"}
        del body[missing]
        with pytest.raises(ValidationError, match=missing):
            AigcMeta.model_validate(body)
    with pytest.raises(ValidationError, match="producer_id"):
        AigcMeta.model_validate({"producer_id": "", "content_propagator": "c"})


@pytest.mark.parametrize("field", ["content_producer", "producer_id", "content_propagator", "propagate_id"])
def test_aigc_meta_fields_are_at_most_256_chars(field: str) -> None:
    body = {"producer_id": "p", "content_propagator": "c"}
    AigcMeta.model_validate({**body, field: "x" * 256})
    with pytest.raises(ValidationError, match=field):
        AigcMeta.model_validate({**body, field: "x" * 257})


def test_aigc_meta_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="producer_name"):
        AigcMeta.model_validate({"producer_id": "p", "content_propagator": "c", "producer_name": "n"})


def test_aigc_meta_inside_a_request_is_validated() -> None:
    assert "aigc_meta" in _errors({**BASE, "aigc_meta": {"producer_id": "p"}})


def test_media_source_needs_exactly_one_location() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        MediaSource()
    with pytest.raises(ValidationError, match="exactly one"):
        MediaSource(s3=S3Location(bucket="b", key="k"), url="https://example.com/a.png")
    assert MediaSource(s3=S3Location(bucket="b", key="k/a.png")).display == "s3://b/k/a.png"
    assert MediaSource(url="https://example.com/a.png").display == "https://example.com/a.png"


def test_job_output_key_uses_prefix_and_job_id() -> None:
    job = Job.model_validate(
        {
            "job_id": "j-1",
            "provider": "wavespeed/omnihuman-1.5",
            "image": {"s3": {"bucket": "in", "key": "a.png"}},
            "audio": {"s3": {"bucket": "in", "key": "a.wav"}},
            "request": {"image": "a.png", "audio": "a.wav", "output_prefix": "campaign-7/"},
            "trigger": "console",
            "requested_at": "2025-01-01T00:00:00Z",
        }
    )
    assert job.output_key("video.mp4") == "campaign-7/j-1/video.mp4"
