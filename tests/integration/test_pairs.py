"""Pair drops (moto): drop/<stem>.<image> + drop/<stem>.<audio> starts one job, once, with default settings."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from avatar_pipeline import aws as pipeline_aws
from avatar_pipeline.intake import Intake, take_trigger
from avatar_pipeline.models import S3Location
from avatar_pipeline.pairs import DroppedObject, Pair, find_pair, media_kind, start_pair
from avatar_pipeline.storage import existing_event_key
from moto import mock_aws
from moto.s3.models import s3_backends

from .lambda_handlers import FakeLambdaContext, load_handler

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

ACCOUNT = "123456789012"  # moto's default account
BUCKET = "avatar-input"
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
POWERTOOLS_ENV = {
    "POWERTOOLS_SERVICE_NAME": "avatar-pipeline",
    "POWERTOOLS_METRICS_NAMESPACE": "Test",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def clear_client_caches() -> None:
    for factory in (pipeline_aws.s3, pipeline_aws.stepfunctions):  # what the PairDrop handler uses
        factory.cache_clear()


@pytest.fixture(scope="module")
def module_aws() -> Iterator[None]:
    """One moto for the module (starting moto per test would dominate its run time)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        clear_client_caches()
        with mock_aws():
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            yield
        clear_client_caches()


@pytest.fixture
def s3(module_aws: None) -> Any:
    """The module's input bucket, emptied before each test."""
    client = boto3.client("s3")
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    return client


@pytest.fixture
def sfn(module_aws: None) -> Any:
    return boto3.client("stepfunctions")


@pytest.fixture
def machine(sfn: Any) -> str:
    """A fresh state machine per test, so each test counts only its own executions."""
    arn: str = sfn.create_state_machine(
        name=f"avatar-video-{uuid.uuid4().hex[:12]}",
        definition=PASS_MACHINE,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/avatar-sfn",
    )["stateMachineArn"]
    return arn


def put(s3: Any, key: str, body: bytes = b"media", *, minutes_ago: float = 0) -> str:
    """Uploads ``key``; ``minutes_ago`` back-dates it (S3 listings only have one-second resolution)."""
    etag: str = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')
    if minutes_ago:
        stored = s3_backends[ACCOUNT]["aws"].get_object(BUCKET, key)
        assert stored is not None
        stored.last_modified -= dt.timedelta(minutes=minutes_ago)
    return etag


def executions(sfn: Any, machine: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=machine)["executions"]
    return found


# --- media_kind -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("drop/alice.png", ("drop/alice", "image")),
        ("drop/alice.PNG", ("drop/alice", "image")),
        ("drop/alice.Jpg", ("drop/alice", "image")),
        ("drop/alice.jpeg", ("drop/alice", "image")),
        ("drop/alice.WebP", ("drop/alice", "image")),
        ("drop/alice.mp3", ("drop/alice", "audio")),
        ("drop/alice.Mp3", ("drop/alice", "audio")),
        ("drop/alice.WAV", ("drop/alice", "audio")),
        ("drop/alice.m4a", ("drop/alice", "audio")),
        ("drop/alice.aac", ("drop/alice", "audio")),
        ("drop/alice.v2.png", ("drop/alice.v2", "image")),
        ("drop/team/alice.png", ("drop/team/alice", "image")),
        ("drop/alice smith.png", ("drop/alice smith", "image")),
        ("drop/zoë+1.wav", ("drop/zoë+1", "audio")),
    ],
)
def test_media_kind_of_dropped_files(key: str, expected: tuple[str, str]) -> None:
    assert media_kind(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "alice.png",  # not under drop/
        "jobs/alice.png",
        "xdrop/alice.png",
        "Drop/alice.png",  # the prefix is case-sensitive, as S3 keys are
        "drop/.png",  # no stem
        "drop/team/.wav",
        "drop/alice",  # no extension
        "drop/alice.gif",  # unknown extensions
        "drop/alice.json",
        "drop/alice.png.txt",
        "drop/",
    ],
)
def test_media_kind_ignores_everything_else(key: str) -> None:
    assert media_kind(key) is None


# --- find_pair ------------------------------------------------------------------------------------


def test_lone_file_is_no_pair(s3: Any) -> None:
    put(s3, "drop/alice.png")
    assert find_pair(s3, BUCKET, "drop/alice.png") is None


def test_lone_file_with_an_unrelated_neighbour_is_no_pair(s3: Any) -> None:
    put(s3, "drop/alice.png")
    put(s3, "drop/alice.v2.wav")  # another stem that merely starts the same
    put(s3, "drop/alice.txt")
    put(s3, "drop/bob.wav")
    assert find_pair(s3, BUCKET, "drop/alice.png") is None


def test_both_present_make_a_pair_whichever_arrived_last(s3: Any) -> None:
    image_etag = put(s3, "drop/alice.png", b"png bytes")
    audio_etag = put(s3, "drop/alice.wav", b"wav bytes")
    expected = (("drop/alice.png", image_etag), ("drop/alice.wav", audio_etag))
    for arrival in ("drop/alice.wav", "drop/alice.png"):
        pair = find_pair(s3, BUCKET, arrival)
        assert pair is not None
        assert ((pair.image.key, pair.image.etag), (pair.audio.key, pair.audio.etag)) == expected
    assert find_pair(s3, BUCKET, "drop/alice.wav") == find_pair(s3, BUCKET, "drop/alice.png")
    assert '"' not in image_etag


def test_a_key_that_is_not_a_dropped_medium_finds_nothing(s3: Any) -> None:
    put(s3, "drop/alice.png")
    put(s3, "drop/alice.wav")
    assert find_pair(s3, BUCKET, "drop/alice.txt") is None
    assert find_pair(s3, BUCKET, "jobs/alice.png") is None


def test_several_candidates_pair_the_newest_of_each_kind(s3: Any) -> None:
    put(s3, "drop/alice.png", minutes_ago=30)
    newest_image = put(s3, "drop/alice.JPG", b"jpeg", minutes_ago=1)
    put(s3, "drop/alice.webp", minutes_ago=10)
    put(s3, "drop/alice.mp3", minutes_ago=20)
    newest_audio = put(s3, "drop/alice.m4a", b"m4a", minutes_ago=2)
    put(s3, "drop/alice.wav", minutes_ago=5)
    pair = find_pair(s3, BUCKET, "drop/alice.png")
    assert pair is not None
    assert (pair.image.key, pair.image.etag) == ("drop/alice.JPG", newest_image)
    assert (pair.audio.key, pair.audio.etag) == ("drop/alice.m4a", newest_audio)


@pytest.mark.parametrize("stem", ["drop/alice smith", "drop/a+b", "drop/zoë ünïcode", "drop/team/x (1)"])
def test_keys_with_spaces_plus_and_unicode_pair_up(s3: Any, stem: str) -> None:
    put(s3, f"{stem}.png")
    put(s3, f"{stem}.mp3")
    pair = find_pair(s3, BUCKET, f"{stem}.mp3")
    assert pair is not None
    assert (pair.image.key, pair.audio.key) == (f"{stem}.png", f"{stem}.mp3")


def test_stems_are_not_confused_across_folders(s3: Any) -> None:
    put(s3, "drop/a/alice.png")
    put(s3, "drop/b/alice.wav")
    assert find_pair(s3, BUCKET, "drop/a/alice.png") is None


def test_longer_stems_sharing_the_prefix_do_not_hide_the_pair(s3: Any) -> None:
    for index in range(3):
        put(s3, f"drop/alice.{index}.png")
    put(s3, "drop/alice.png")
    put(s3, "drop/alice.wav")
    assert find_pair(s3, BUCKET, "drop/alice.wav") is not None


# --- Pair.job_id ----------------------------------------------------------------------------------


def pair_of(
    image_etag: str = "i1", audio_etag: str = "a1", *, image: str = "drop/alice.png", uploaded: str = "t1"
) -> Pair:
    return Pair(
        BUCKET, DroppedObject(image, image_etag, uploaded), DroppedObject("drop/alice.wav", audio_etag, uploaded)
    )


def test_job_id_is_the_readable_stem_and_the_execution_name_a_valid_one() -> None:
    assert pair_of().job_id == pair_of().job_id
    assert re.fullmatch(r"alice-[0-9a-f]{8}", pair_of().job_id)
    long_stem = pair_of(image="drop/" + "Very Long Portrait Name " * 8 + ".png")
    for name in (pair_of().execution_name, long_stem.execution_name):
        assert re.fullmatch(r"[a-z0-9-]{1,80}", name), "Step Functions execution names are at most 80 characters"


def test_a_re_drop_of_the_same_content_is_the_same_job_in_a_new_execution() -> None:
    first, again = pair_of(uploaded="t1"), pair_of(uploaded="t2")
    assert first.job_id == again.job_id
    assert first.execution_name != again.execution_name
    assert pair_of(uploaded="t1").execution_name == first.execution_name, "both arrivals of one drop agree"


def test_job_id_changes_with_either_etag_or_key() -> None:
    ids = {
        pair_of().job_id,
        pair_of("i2").job_id,
        pair_of(audio_etag="a2").job_id,
        pair_of(image="drop/alice.jpg").job_id,
    }
    assert len(ids) == 4


def test_re_uploading_changed_media_is_a_new_job(s3: Any) -> None:
    put(s3, "drop/alice.png", b"first portrait")
    put(s3, "drop/alice.wav")
    first = find_pair(s3, BUCKET, "drop/alice.wav")
    put(s3, "drop/alice.png", b"second portrait")
    second = find_pair(s3, BUCKET, "drop/alice.png")
    assert first is not None
    assert second is not None
    assert first.job_id != second.job_id
    put(s3, "drop/alice.png", b"second portrait")  # same bytes again: same ETag, same job
    again = find_pair(s3, BUCKET, "drop/alice.png")
    assert again is not None
    assert again.job_id == second.job_id


def test_execution_input_is_a_pair_trigger_intake_turns_into_a_job() -> None:
    pair = pair_of()
    event = pair.execution_input()
    assert event["detail"] == {
        "image": f"s3://{BUCKET}/drop/alice.png",
        "audio": f"s3://{BUCKET}/drop/alice.wav",
        "job_id": pair.job_id,
    }

    def no_manifest(location: S3Location, version_id: str | None, max_bytes: int) -> tuple[S3Location, bytes]:
        raise AssertionError("a pair has no manifest")

    intake = take_trigger(
        json.loads(json.dumps(event)),
        execution_name=pair.execution_name,
        input_bucket=BUCKET,
        default_provider="wavespeed/omnihuman-1.5",
        read_manifest=no_manifest,
    )
    assert isinstance(intake, Intake)
    job = intake.job
    assert job is not None
    assert (job.job_id, job.trigger, job.provider) == (pair.job_id, "pair", "wavespeed/omnihuman-1.5")
    assert job.origin is not None
    assert job.origin.pair == ("s3://avatar-input/drop/alice.png", "s3://avatar-input/drop/alice.wav")
    assert job.image.s3 == S3Location(bucket=BUCKET, key="drop/alice.png")
    assert job.audio is not None
    assert job.audio.s3 == S3Location(bucket=BUCKET, key="drop/alice.wav")


# --- start_pair -----------------------------------------------------------------------------------


def test_starting_a_pair_twice_makes_one_execution(sfn: Any, machine: str) -> None:
    pair = pair_of()
    assert start_pair(sfn, machine, pair) is True
    start_pair(sfn, machine, pair)  # while running, Step Functions answers with the same execution
    (execution,) = executions(sfn, machine)
    assert execution["name"] == pair.execution_name
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == pair.execution_input()


def test_starting_a_pair_after_its_execution_ended_starts_nothing(sfn: Any, machine: str) -> None:
    pair = pair_of()
    assert start_pair(sfn, machine, pair) is True
    (execution,) = executions(sfn, machine)
    sfn.stop_execution(executionArn=execution["executionArn"])
    assert start_pair(sfn, machine, pair) is False, "ExecutionAlreadyExists: the other arrival won"
    assert len(executions(sfn, machine)) == 1


def test_a_changed_pair_is_a_second_execution(sfn: Any, machine: str) -> None:
    assert start_pair(sfn, machine, pair_of()) is True
    assert start_pair(sfn, machine, pair_of("i2")) is True
    assert len(executions(sfn, machine)) == 2


# --- existing_event_key ---------------------------------------------------------------------------


def test_event_key_is_decoded_only_when_the_raw_key_is_missing(s3: Any) -> None:
    put(s3, "drop/alice smith.png")
    put(s3, "drop/a+b.png")
    assert existing_event_key(s3, BUCKET, "drop/alice+smith.png") == "drop/alice smith.png"
    assert existing_event_key(s3, BUCKET, "drop/a+b.png") == "drop/a+b.png", "a real '+' is kept"
    assert existing_event_key(s3, BUCKET, "drop/zo%C3%AB.png") == "drop/zoë.png", "missing: decoded"
    assert existing_event_key(s3, BUCKET, "drop/plain.png") == "drop/plain.png", "nothing to decode"


def test_event_key_check_needs_only_the_listing_pair_drop_is_allowed(s3: Any) -> None:
    # PairDrop's role may list drop/ but not read objects, and HeadObject needs s3:GetObject.
    put(s3, "drop/a+b.png")
    put(s3, "drop/a+b c.png")  # a longer key under the same prefix must not be mistaken for it
    calls: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    assert existing_event_key(s3, BUCKET, "drop/a+b.png") == "drop/a+b.png"
    assert existing_event_key(s3, BUCKET, "drop/a+b+c.png") == "drop/a b c.png"
    assert existing_event_key(s3, BUCKET, "drop/a+b") == "drop/a b", "a prefix of existing keys is not a key"
    assert set(calls) == {"ListObjectsV2"}


# --- the PairDrop handler -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair_drop() -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in POWERTOOLS_ENV.items():
            patch.setenv(name, value)
        yield load_handler("pair_drop")


@pytest.fixture
def handle(pair_drop: ModuleType, s3: Any, machine: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in POWERTOOLS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STATE_MACHINE_ARN", machine)  # all the template gives PairDrop

    def call(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = pair_drop.lambda_handler(event, FakeLambdaContext(function_name="avatar-pair-drop"))
        json.dumps(result)
        return result

    return call


def object_created(key: str, etag: str, version_id: str | None = None) -> dict[str, Any]:
    """S3 "Object Created" as EventBridge delivers it: ``etag`` and ``version-id`` are AWS's field names."""
    obj: dict[str, Any] = {"key": key, "size": 5, "etag": etag, "sequencer": "00617F08299329D189"}
    if version_id:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2025-03-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


def test_handler_starts_nothing_for_a_lone_file(handle: Any, s3: Any, sfn: Any, machine: str) -> None:
    etag = put(s3, "drop/alice.png")
    assert handle(object_created("drop/alice.png", etag)) == {"started": False, "key": "drop/alice.png"}
    assert executions(sfn, machine) == []


def test_handler_starts_one_execution_for_a_pair(handle: Any, s3: Any, sfn: Any, machine: str) -> None:
    image_etag = put(s3, "drop/alice.png")
    assert handle(object_created("drop/alice.png", image_etag, "v-image"))["started"] is False
    audio_etag = put(s3, "drop/alice.mp3")
    result = handle(object_created("drop/alice.mp3", audio_etag, "v-audio"))
    pair = find_pair(s3, BUCKET, "drop/alice.mp3")
    assert pair is not None
    assert (pair.image.etag, pair.audio.etag) == (image_etag, audio_etag)
    assert result == {"started": True, "job_id": pair.job_id}
    (execution,) = executions(sfn, machine)
    assert execution["name"] == pair.execution_name


def test_handler_starts_once_when_both_arrivals_see_the_pair(handle: Any, s3: Any, sfn: Any, machine: str) -> None:
    image_etag = put(s3, "drop/alice.png")
    audio_etag = put(s3, "drop/alice.wav")
    # Both files landed before either event was handled, and the image's event is delivered twice.
    handle(object_created("drop/alice.png", image_etag))
    handle(object_created("drop/alice.wav", audio_etag))
    handle(object_created("drop/alice.png", image_etag))
    assert len(executions(sfn, machine)) == 1


def test_handler_decodes_url_encoded_event_keys(handle: Any, s3: Any, sfn: Any, machine: str) -> None:
    put(s3, "drop/alice smith.png")
    etag = put(s3, "drop/alice smith.wav")
    calls: list[str] = []
    events = pipeline_aws.s3().meta.events
    events.register("before-call.s3.*", lambda model, **_: calls.append(model.name), unique_id="count-calls")
    try:
        result = handle(object_created("drop/alice+smith.wav", etag))
    finally:
        events.unregister("before-call.s3.*", unique_id="count-calls")
    assert result["started"] is True
    assert set(calls) == {"ListObjectsV2"}, "all PairDrop's role allows it in S3"
    (execution,) = executions(sfn, machine)
    detail = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])["detail"]
    assert detail["image"] == f"s3://{BUCKET}/drop/alice smith.png"
    assert detail["audio"] == f"s3://{BUCKET}/drop/alice smith.wav"


def test_handler_ignores_files_that_are_not_media(handle: Any, s3: Any, sfn: Any, machine: str) -> None:
    put(s3, "drop/alice.wav")
    etag = put(s3, "drop/alice.txt")
    assert handle(object_created("drop/alice.txt", etag))["started"] is False
    assert executions(sfn, machine) == []
