"""``take_trigger``: S3 manifest events, custom events and console input become one validated Job, or a rejection
that still names the job (the caller's id, or one derived from the trigger) and its trigger."""

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from avatar_pipeline.intake import MAX_MANIFEST_BYTES, Ignored, Intake, take_trigger
from avatar_pipeline.models import Job, S3Location
from avatar_pipeline.providers.registry import CONTRACT_PROVIDER_IDS

INPUT_BUCKET = "avatar-input"
DEFAULT_PROVIDER = "wavespeed/omnihuman-1.5"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def s3_event(
    key: str = "jobs/alice.json",
    *,
    bucket: str = INPUT_BUCKET,
    etag: str = "4e68adba0abe2dc8653dc3354e14c01d",
    version_id: str | None = "096fKKXTRTtl3on89fVO.nfljtsv6qko",
) -> dict[str, Any]:
    """The shape of powertools' tests/events/s3EventBridgeNotificationObjectCreatedEvent.json."""
    obj: dict[str, Any] = {"key": key, "size": 184662, "etag": etag, "sequencer": "006408CAD69598B05E"}
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": "f5f1e65c-dc3a-93ca-6c1e-b1647eac7963",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2023-03-08T17:50:14Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


def custom_event(detail: dict[str, Any], event_id: str = "0a1b2c3d-1111-2222-3333-444455556666") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Avatar Video Requested",
        "source": "avatar.pipeline",
        "account": "123456789012",
        "time": "2025-03-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


class FakeManifests:
    """A ``read_manifest`` stand-in: serves fixed bytes and records what it was asked for."""

    def __init__(self, body: bytes | dict[str, Any]) -> None:
        self.body = json.dumps(body).encode() if isinstance(body, dict) else body
        self.calls: list[tuple[S3Location, str | None, int]] = []

    def __call__(self, location: S3Location, version_id: str | None, max_bytes: int) -> tuple[S3Location, bytes]:
        self.calls.append((location, version_id, max_bytes))
        return location, self.body


def run(event: Any, manifest: Any = None, *, execution_name: str = "exec-1") -> Intake | Ignored:
    reader = manifest if manifest is not None else FakeManifests(b"{}")
    return take_trigger(
        event,
        execution_name=execution_name,
        input_bucket=INPUT_BUCKET,
        default_provider=DEFAULT_PROVIDER,
        read_manifest=reader,
        now=NOW,
    )


def run_job(event: dict[str, Any], manifest: Any = None, **kwargs: Any) -> Job:
    result = run(event, manifest, **kwargs)
    assert isinstance(result, Intake), result
    assert result.rejection is None, result.rejection
    assert result.job is not None
    assert (result.ref.job_id, result.ref.request_hash) == (result.job.job_id, result.job.request_hash)
    return result.job


def rejected(event: Any, manifest: Any = None, **kwargs: Any) -> Intake:
    result = run(event, manifest, **kwargs)
    assert isinstance(result, Intake), result
    assert result.job is None
    assert result.rejection is not None
    assert result.rejection.Error == "InvalidRequest"
    assert result.ref.request_hash is None
    return result


def invalid(event: Any, manifest: Any = None, **kwargs: Any) -> str:
    cause = rejected(event, manifest, **kwargs).rejection.Cause  # type: ignore[union-attr]
    assert cause
    return cause


MANIFEST = {"image": "alice.png", "audio": "voice/alice.mp3"}


# --- S3 manifest events ---------------------------------------------------------------------------


def test_manifest_event_becomes_a_job_with_media_relative_to_its_folder() -> None:
    reader = FakeManifests(MANIFEST)
    job = run_job(s3_event("jobs/campaign/alice.json"), reader)
    assert job.trigger == "manifest"
    assert job.provider == DEFAULT_PROVIDER
    assert job.manifest == S3Location(bucket=INPUT_BUCKET, key="jobs/campaign/alice.json")
    assert job.image.s3 == S3Location(bucket=INPUT_BUCKET, key="jobs/campaign/alice.png")
    assert job.audio is not None
    assert job.audio.s3 == S3Location(bucket=INPUT_BUCKET, key="jobs/campaign/voice/alice.mp3")
    assert job.requested_at == NOW
    assert job.request.image == "alice.png"
    # The manifest is read at the version the event names, bounded in size.
    assert reader.calls == [
        (
            S3Location(bucket=INPUT_BUCKET, key="jobs/campaign/alice.json"),
            "096fKKXTRTtl3on89fVO.nfljtsv6qko",
            MAX_MANIFEST_BYTES,
        )
    ]


def test_manifest_media_may_sit_in_subfolders() -> None:
    job = run_job(s3_event("jobs/campaign/alice.json"), FakeManifests({"image": "a/b/alice.png", "audio": "x.wav"}))
    assert job.image.s3 == S3Location(bucket=INPUT_BUCKET, key="jobs/campaign/a/b/alice.png")


@pytest.mark.parametrize(
    "ref",
    ["../../alice.png", "../../x", "../shared/a.wav", "./a/../alice.png", "a/../../../x.png", "/alice.png", "a/./b"],
)
def test_manifest_media_cannot_leave_the_manifests_folder(ref: str) -> None:
    """``../../x`` from ``jobs/campaign/`` used to resolve to ``x`` at the bucket's root: any key was reachable."""
    intake = rejected(s3_event("jobs/campaign/alice.json"), FakeManifests({"image": ref, "audio": "alice.mp3"}))
    assert f"image {ref!r} must stay inside the manifest's folder" in intake.rejection.Cause  # type: ignore[union-attr]
    assert intake.ref.job_id.startswith("alice-")


def test_manifest_media_may_be_s3_uris_in_the_input_bucket() -> None:
    reader = FakeManifests({"image": f"s3://{INPUT_BUCKET}/media/a.png", "audio": "a.wav"})
    job = run_job(s3_event(), reader)
    assert job.image.s3 == S3Location(bucket=INPUT_BUCKET, key="media/a.png")
    assert job.audio is not None
    assert job.audio.s3 == S3Location(bucket=INPUT_BUCKET, key="jobs/a.wav")


@pytest.mark.parametrize("key", ["jobs/alice.JSON", "jobs/alice.Json", "jobs/deep/er/alice.json"])
def test_manifest_suffix_matches_case_insensitively(key: str) -> None:
    assert run_job(s3_event(key), FakeManifests(MANIFEST)).trigger == "manifest"


@pytest.mark.parametrize(
    "key", ["alice.json", "drop/alice.json", "jobs/alice.png", "jobs/alice.json.txt", "xjobs/alice.json"]
)
def test_objects_that_are_not_manifests_are_ignored(key: str) -> None:
    reader = FakeManifests(MANIFEST)
    result = run(s3_event(key), reader)
    assert isinstance(result, Ignored)
    assert f"s3://{INPUT_BUCKET}/{key} is not a manifest" in result.ignored
    assert reader.calls == [], "an ignored object is never read"


def test_manifest_in_another_bucket_is_refused() -> None:
    reader = FakeManifests(MANIFEST)
    message = invalid(s3_event(bucket="someone-else"), reader)
    assert "s3://someone-else/jobs/alice.json" in message
    assert f"not in the input bucket {INPUT_BUCKET}" in message
    assert reader.calls == []


def test_derived_job_id_is_the_readable_stem_plus_a_hash_of_key_and_etag() -> None:
    first = run_job(s3_event("jobs/campaign/Alice Smith.json"), FakeManifests(MANIFEST)).job_id
    assert re.fullmatch(r"alice-smith-[0-9a-f]{8}", first), first
    assert run_job(s3_event("jobs/campaign/Alice Smith.json"), FakeManifests(MANIFEST)).job_id == first
    assert run_job(s3_event("jobs/other/Alice Smith.json"), FakeManifests(MANIFEST)).job_id != first


def test_same_content_reuploaded_is_the_same_job_changed_content_a_new_one() -> None:
    one = run_job(s3_event(etag="aaa", version_id="v1"), FakeManifests(MANIFEST))
    again = run_job(s3_event(etag="aaa", version_id="v2"), FakeManifests(MANIFEST))
    changed = run_job(s3_event(etag="bbb", version_id="v3"), FakeManifests(MANIFEST))
    assert one.job_id == again.job_id != changed.job_id
    # Each upload is its own delivery: a re-upload after a failure is a new attempt, a redelivery is not.
    assert one.origin is not None
    assert again.origin is not None
    assert one.origin.delivery_id != again.origin.delivery_id
    assert run_job(s3_event(etag="aaa", version_id="v1"), FakeManifests(MANIFEST)).origin == one.origin


@pytest.mark.parametrize("stem", ["日本語", "---", "_"])
def test_a_stem_with_nothing_to_slug_still_gives_a_valid_id(stem: str) -> None:
    job_id = run_job(s3_event(f"jobs/{stem}.json"), FakeManifests(MANIFEST)).job_id
    assert re.fullmatch(r"job-[0-9a-f]{8}", job_id), job_id


def test_the_origin_names_the_manifest() -> None:
    job = run_job(s3_event("jobs/campaign/alice.json"), FakeManifests(MANIFEST))
    assert job.origin is not None
    assert job.origin.describe() == {"kind": "manifest", "manifest": f"s3://{INPUT_BUCKET}/jobs/campaign/alice.json"}


def test_caller_chosen_job_id_wins() -> None:
    job = run_job(s3_event(), FakeManifests({**MANIFEST, "job_id": "my-job"}))
    assert job.job_id == "my-job"


def test_moto_style_numeric_event_time_is_accepted() -> None:
    event = s3_event()
    event["time"] = 1700000000
    assert run_job(event, FakeManifests(MANIFEST)).trigger == "manifest"


def test_malformed_s3_event_is_refused() -> None:
    event = s3_event()
    del event["detail"]["bucket"]
    message = invalid(event, FakeManifests(MANIFEST))
    assert "malformed S3 event" in message
    assert "detail.bucket" in message


# --- manifest bodies ------------------------------------------------------------------------------


def test_manifest_that_is_not_utf8_is_refused() -> None:
    message = invalid(s3_event(), FakeManifests(b"\xff\xfe{\x00}\x00"))
    assert f"manifest s3://{INPUT_BUCKET}/jobs/alice.json is not UTF-8 text" in message


def test_manifest_that_is_not_json_is_refused() -> None:
    message = invalid(s3_event(), FakeManifests(b'{"image": "a.png",'))
    assert f"manifest s3://{INPUT_BUCKET}/jobs/alice.json is not valid JSON" in message
    assert "line 1" in message


@pytest.mark.parametrize(("body", "kind"), [(b"[1, 2]", "list"), (b'"alice.png"', "str"), (b"null", "NoneType")])
def test_manifest_that_is_not_an_object_is_refused(body: bytes, kind: str) -> None:
    message = invalid(s3_event(), FakeManifests(body))
    assert "must be a JSON object with the job request fields" in message
    assert f"got {kind}" in message


def test_deeply_nested_manifest_is_refused_readably() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    message = invalid(s3_event(), FakeManifests(body))
    assert message == f"manifest s3://{INPUT_BUCKET}/jobs/alice.json is nested too deeply"


def test_deeply_nested_object_manifest_is_refused_readably() -> None:
    body = b'{"a":' * 5000 + b"1" + b"}" * 5000
    message = invalid(s3_event(), FakeManifests(body))
    assert message == f"manifest s3://{INPUT_BUCKET}/jobs/alice.json is nested too deeply"


def test_manifest_with_unknown_field_names_the_field() -> None:
    message = invalid(s3_event(), FakeManifests({**MANIFEST, "colour": "red"}))
    assert "is not a valid job request" in message
    assert "colour: unknown field" in message


def test_manifest_missing_image_names_the_field() -> None:
    message = invalid(s3_event(), FakeManifests({"audio": "a.mp3"}))
    assert "image: Field required" in message


# --- custom events --------------------------------------------------------------------------------


def test_custom_event_with_s3_media() -> None:
    detail = {"image": f"s3://{INPUT_BUCKET}/media/a.png", "audio": f"s3://{INPUT_BUCKET}/media/a.wav"}
    job = run_job(custom_event(detail))
    assert job.trigger == "event"
    assert job.manifest is None
    assert job.image.s3 == S3Location(bucket=INPUT_BUCKET, key="media/a.png")
    assert job.audio is not None
    assert job.audio.s3 == S3Location(bucket=INPUT_BUCKET, key="media/a.wav")
    assert re.fullmatch(r"a-[0-9a-f]{8}", job.job_id), "named after the image's stem"
    assert run_job(custom_event(detail)).job_id == job.job_id
    assert run_job(custom_event(detail, event_id="another-id")).job_id != job.job_id


def test_custom_event_with_https_media() -> None:
    detail = {"image": "https://cdn.example.com/a.png", "audio": "https://cdn.example.com/a.wav"}
    job = run_job(custom_event(detail))
    assert job.image.url == "https://cdn.example.com/a.png"
    assert job.image.s3 is None


@pytest.mark.parametrize("field", ["image", "audio"])
def test_relative_key_in_a_custom_event_is_refused_naming_the_field(field: str) -> None:
    detail = {"image": f"s3://{INPUT_BUCKET}/a.png", "audio": f"s3://{INPUT_BUCKET}/a.wav", field: "a.bin"}
    message = invalid(custom_event(detail))
    assert message.startswith(f"{field} 'a.bin' is a relative key")
    assert "only a manifest file can use" in message


def test_custom_event_that_is_not_an_object_is_refused() -> None:
    message = invalid(custom_event("not-an-object"))  # type: ignore[arg-type]
    assert message.startswith("malformed custom event: detail")


# --- console input --------------------------------------------------------------------------------


def test_console_input_is_a_job() -> None:
    body = {"image": f"s3://{INPUT_BUCKET}/a.png", "audio": f"s3://{INPUT_BUCKET}/a.wav", "job_id": "console-1"}
    job = run_job(body)
    assert job.trigger == "console"
    assert job.job_id == "console-1"


def test_console_job_id_is_derived_from_the_execution_name() -> None:
    body = {"image": f"s3://{INPUT_BUCKET}/a.png", "audio": f"s3://{INPUT_BUCKET}/a.wav"}
    one = run_job(body, execution_name="exec-A").job_id
    assert re.fullmatch(r"a-[0-9a-f]{8}", one)
    assert run_job(body, execution_name="exec-A").job_id == one
    assert run_job(body, execution_name="exec-B").job_id != one


def test_relative_key_in_console_input_is_refused() -> None:
    message = invalid({"image": "a.png", "audio": f"s3://{INPUT_BUCKET}/a.wav"})
    assert message.startswith("image 'a.png' is a relative key")


def test_console_input_that_is_not_a_request_is_refused() -> None:
    message = invalid({"hello": "world"})
    assert "the execution input is not a valid job request" in message
    assert "hello: unknown field" in message
    assert "image: Field required" in message


@pytest.mark.parametrize("field", ["image", "audio"])
def test_s3_uri_outside_the_input_bucket_is_refused(field: str) -> None:
    body = {"image": f"s3://{INPUT_BUCKET}/a.png", "audio": f"s3://{INPUT_BUCKET}/a.wav"}
    body[field] = "s3://other-bucket/secret.bin"
    message = invalid(body)
    assert f"{field} s3://other-bucket/secret.bin is outside the input bucket {INPUT_BUCKET}" in message


@pytest.mark.parametrize("ref", ["s3://", f"s3://{INPUT_BUCKET}", f"s3://{INPUT_BUCKET}/"])
def test_incomplete_s3_uri_is_refused(ref: str) -> None:
    message = invalid({"image": ref, "audio": f"s3://{INPUT_BUCKET}/a.wav"})
    assert "is not a valid s3://bucket/key URI" in message


@pytest.mark.parametrize(
    ("ref", "scheme"),
    [
        ("http://cdn.example.com/a.png", "http"),
        ("file:///etc/passwd", "file"),
        ("ftp://example.com/a.png", "ftp"),
        ("HTTP://cdn.example.com/a.png", "http"),
    ],
)
def test_other_schemes_are_refused(ref: str, scheme: str) -> None:
    message = invalid({"image": ref, "audio": f"s3://{INPUT_BUCKET}/a.wav"})
    assert f"image {ref!r} uses {scheme}://" in message
    assert "only a relative key, s3:// or https:// is accepted" in message


def test_https_url_without_host_is_refused() -> None:
    message = invalid({"image": "https:///a.png", "audio": f"s3://{INPUT_BUCKET}/a.wav"})
    assert "not a valid https URL" in message


def test_control_characters_in_media_refs_are_refused() -> None:
    message = invalid({"image": f"s3://{INPUT_BUCKET}/a\n.png", "audio": f"s3://{INPUT_BUCKET}/a.wav"})
    assert message == "image contains control characters"


# --- providers and options ------------------------------------------------------------------------

CONSOLE = {"image": f"s3://{INPUT_BUCKET}/a.png", "audio": f"s3://{INPUT_BUCKET}/a.wav"}


def test_unknown_provider_is_refused_listing_the_available_ones() -> None:
    message = invalid({**CONSOLE, "provider": "acme/talker"})
    assert message == (
        "unknown provider 'acme/talker'; available: kling/avatar, volcengine/omnihuman-1.5, "
        "wavespeed/hunyuan-avatar, wavespeed/omnihuman, wavespeed/omnihuman-1.5"
    )


@pytest.mark.parametrize("provider", sorted(CONTRACT_PROVIDER_IDS))
def test_every_contract_provider_is_accepted(provider: str) -> None:
    assert run_job({**CONSOLE, "provider": provider}).provider == provider


def test_explicit_provider_is_kept() -> None:
    assert run_job({**CONSOLE, "provider": "wavespeed/omnihuman-1.5"}).provider == "wavespeed/omnihuman-1.5"


def test_prompt_is_refused_for_a_provider_without_prompts() -> None:
    message = invalid({**CONSOLE, "prompt": "smile"})
    assert message == "wavespeed/omnihuman-1.5 does not take a prompt"


def test_seed_is_refused_for_a_provider_without_seeds() -> None:
    message = invalid({**CONSOLE, "seed": 7})
    assert message == "wavespeed/omnihuman-1.5 does not take a seed"


def test_unknown_option_is_refused_listing_allowed_ones() -> None:
    message = invalid({**CONSOLE, "options": {"resolution": "720p", "mode": "pro"}})
    assert message == "unknown option(s) for wavespeed/omnihuman-1.5: mode, resolution; allowed: none"


def test_audio_id_is_an_unknown_option_for_wavespeed() -> None:
    message = invalid({"image": CONSOLE["image"], "options": {"audio_id": "voice-1"}})
    assert "unknown option(s) for wavespeed/omnihuman-1.5: audio_id" in message


def test_input_event_is_not_mutated() -> None:
    event = s3_event()
    before = copy.deepcopy(event)
    run(event, FakeManifests(MANIFEST))
    assert event == before


# --- rejections keep the job's name and trigger -----------------------------------------------------


def test_an_invalid_request_keeps_the_callers_well_formed_job_id_and_its_trigger() -> None:
    intake = rejected(custom_event({"image": "nope.png", "job_id": "lesson-7", "provider": "kling/avatar"}))
    assert intake.ref.job_id == "lesson-7"
    assert intake.ref.provider == "kling/avatar"
    assert intake.ref.origin.describe() == {"kind": "event", "event_id": "0a1b2c3d-1111-2222-3333-444455556666"}


def test_a_malformed_job_id_is_replaced_by_a_derived_one() -> None:
    intake = rejected({"image": f"s3://{INPUT_BUCKET}/media/bob.png", "job_id": "../etc", "audio": 7})
    assert re.fullmatch(r"bob-[0-9a-f]{8}", intake.ref.job_id)


def test_an_unreadable_manifest_is_rejected_under_the_id_derived_from_its_key() -> None:
    intake = rejected(s3_event("jobs/lessons/intro.json"), FakeManifests(b"{not json"))
    assert re.fullmatch(r"intro-[0-9a-f]{8}", intake.ref.job_id)
    assert intake.ref.origin.manifest == f"s3://{INPUT_BUCKET}/jobs/lessons/intro.json"
    assert "is not valid JSON" in intake.rejection.Cause  # type: ignore[union-attr]


@pytest.mark.parametrize("execution_input", ["just a string", 42, None, ["a"]])
def test_input_that_is_not_an_object_is_recorded_under_the_execution_namespace(execution_input: Any) -> None:
    """``execution:`` holds a ``:``, which no job id may: a caller cannot squat another run's failure record."""
    intake = rejected(execution_input, execution_name="run-9")
    assert intake.ref.job_id == "execution:run-9"
    assert intake.ref.origin.execution_name == "run-9"


@pytest.mark.parametrize("url", ["https://cdn.example.com:99999/a.png", "https://[::1/a.png"])
def test_an_https_url_that_cannot_be_parsed_is_an_invalid_request(url: str) -> None:
    message = invalid({"image": url, "audio": f"s3://{INPUT_BUCKET}/a.wav"})
    assert message.startswith(f"image {url!r} is not a valid URL")


def test_the_request_hash_is_the_resolved_request_without_its_job_id() -> None:
    body = {"image": f"s3://{INPUT_BUCKET}/a.png", "audio": f"s3://{INPUT_BUCKET}/a.wav"}
    one = run_job({**body, "job_id": "x"})
    assert run_job({**body, "job_id": "y"}).request_hash == one.request_hash
    assert run_job({**body, "provider": DEFAULT_PROVIDER, "job_id": "x"}).request_hash == one.request_hash
    assert run_job({**body, "prompt": None, "job_id": "x"}).request_hash == one.request_hash
    assert run_job({**body, "output_prefix": "v2/", "job_id": "x"}).request_hash != one.request_hash
    # The same relative manifest in another folder names other media: another request.
    here = run_job(s3_event("jobs/a/m.json"), FakeManifests(MANIFEST))
    there = run_job(s3_event("jobs/b/m.json"), FakeManifests(MANIFEST))
    assert here.request_hash != there.request_hash


# --- batch rows -----------------------------------------------------------------------------------


def batch_row(row: int = 7, request: dict[str, Any] | None = None, problem: str | None = None) -> dict[str, Any]:
    batch = {
        "name": "lessons",
        "batch_id": "lessons-0a1b2c3d",
        "key": f"s3://{INPUT_BUCKET}/batches/spring/lessons.csv",
    }
    return {
        "source": "avatar.pipeline",
        "detail-type": "Avatar Batch Row",
        "detail": {
            "batch": {**batch, "folder": "batches/spring"},
            "row": row,
            "job_id": f"lessons-{row}-4bc692a6",
            "request": request,
            "problem": problem,
        },
    }


def test_a_batch_row_is_a_job_under_the_id_the_batch_gave_it_with_media_beside_the_file() -> None:
    job = run_job(batch_row(request={"image": "faces/a.png", "audio": "a.wav"}))
    assert job.job_id == "lessons-7-4bc692a6"
    assert job.trigger == "batch"
    assert job.image.s3 == S3Location(bucket=INPUT_BUCKET, key="batches/spring/faces/a.png")
    assert job.origin is not None
    assert job.origin.delivery_id == "batch:lessons-0a1b2c3d#7", "a re-drop is a new delivery: failed rows run again"
    assert job.origin.describe() == {
        "kind": "batch",
        "batch": {
            "name": "lessons",
            "batch_id": "lessons-0a1b2c3d",
            "key": f"s3://{INPUT_BUCKET}/batches/spring/lessons.csv",
        },
        "row": 7,
    }


def test_a_bad_batch_row_fails_alone_naming_its_row() -> None:
    intake = rejected(batch_row(problem="row 7: not a JSON object (an array) (line 9)"))
    assert intake.ref.job_id == "lessons-7-4bc692a6"
    assert intake.rejection is not None
    assert intake.rejection.Cause == (
        f"batch s3://{INPUT_BUCKET}/batches/spring/lessons.csv row 7: not a JSON object (an array) (line 9)"
    )


def test_an_invalid_batch_row_request_names_its_row() -> None:
    cause = invalid(batch_row(request={"image": "a.png", "audio": "a.wav", "colour": "red"}))
    assert cause.startswith(f"batch s3://{INPUT_BUCKET}/batches/spring/lessons.csv row 7 is not a valid job request")
    assert "colour: unknown field" in cause
