"""``validate_media`` against inputs uploaded to a (moto) input bucket."""

import io
import random
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from avatar_local.samples import portrait_jpeg, portrait_png, speech_audio
from avatar_pipeline.errors import InvalidMedia, InvalidRequest
from avatar_pipeline.models import Job, JobRequest, MediaSource, S3Location
from avatar_pipeline.validation import validate_media
from PIL import Image

pytestmark = pytest.mark.integration

BUCKET = "avatar-input"


@pytest.fixture
def s3(mocked_aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def source(key: str) -> MediaSource:
    return MediaSource(s3=S3Location(bucket=BUCKET, key=key))


def make_job(image: MediaSource, audio: MediaSource | None) -> Job:
    request = JobRequest.model_validate(
        {"image": image.display, **({"audio": audio.display} if audio else {"options": {"audio_id": "v"}})}
    )
    return Job(
        job_id="job-1",
        provider="wavespeed/omnihuman-1.5",
        image=image,
        audio=audio,
        request=request,
        trigger="event",
        requested_at=datetime(2025, 3, 1, tzinfo=UTC),
    )


def test_valid_png_and_wav_are_probed(s3: Any) -> None:
    png, wav = portrait_png(320), speech_audio(2.5)
    s3.put_object(Bucket=BUCKET, Key="jobs/alice.png", Body=png)
    s3.put_object(Bucket=BUCKET, Key="jobs/alice.wav", Body=wav)
    media = validate_media(make_job(source("jobs/alice.png"), source("jobs/alice.wav")), s3)
    assert media.image.model_dump() == {
        "source": f"s3://{BUCKET}/jobs/alice.png",
        "format": "png",
        "size_bytes": len(png),
        "width": 320,
        "height": 320,
        "duration_seconds": None,
    }
    assert media.audio is not None
    assert media.audio.source == f"s3://{BUCKET}/jobs/alice.wav"
    assert media.audio.format == "wav"
    assert media.audio.size_bytes == len(wav)
    assert media.audio.duration_seconds == pytest.approx(2.5, abs=1e-3)


def test_jpeg_and_mp3_are_probed(s3: Any) -> None:
    jpeg, mp3 = portrait_jpeg(400), speech_audio(1.0, fmt="mp3")
    s3.put_object(Bucket=BUCKET, Key="media/bob.JPG", Body=jpeg)
    s3.put_object(Bucket=BUCKET, Key="media/bob.Mp3", Body=mp3)
    media = validate_media(make_job(source("media/bob.JPG"), source("media/bob.Mp3")), s3)
    assert (media.image.format, media.image.width, media.image.height) == ("jpeg", 400, 400)
    assert media.audio is not None
    assert (media.audio.format, media.audio.size_bytes, media.audio.duration_seconds) == ("mp3", len(mp3), None)


def test_large_image_is_sized_from_its_header_only(s3: Any) -> None:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (400, 300), random.Random(3).randbytes(400 * 300 * 3)).save(buffer, format="PNG")
    png = buffer.getvalue()
    assert len(png) > 64 * 1024, "bigger than the header read"
    s3.put_object(Bucket=BUCKET, Key="big.png", Body=png)
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    media = validate_media(make_job(source("big.png"), source("a.wav")), s3)
    assert (media.image.size_bytes, media.image.width, media.image.height) == (len(png), 400, 300)


def test_job_without_audio_probes_the_image_only(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=portrait_png(64))
    assert validate_media(make_job(source("a.png"), None), s3).audio is None


@pytest.mark.parametrize("missing", ["image", "audio"])
def test_missing_object_names_it(s3: Any, missing: str) -> None:
    if missing != "image":
        s3.put_object(Bucket=BUCKET, Key="jobs/alice.png", Body=portrait_png(64))
    if missing != "audio":
        s3.put_object(Bucket=BUCKET, Key="jobs/alice.wav", Body=speech_audio(0.5))
    with pytest.raises(InvalidRequest) as caught:
        validate_media(make_job(source("jobs/alice.png"), source("jobs/alice.wav")), s3)
    extension = "png" if missing == "image" else "wav"
    assert caught.value.cause == (
        f"{missing} s3://{BUCKET}/jobs/alice.{extension} does not exist; upload it before the manifest"
    )


def test_png_uploaded_as_mp3_is_invalid_media(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=portrait_png(64))
    s3.put_object(Bucket=BUCKET, Key="voice.mp3", Body=portrait_png(64))
    with pytest.raises(InvalidMedia) as caught:
        validate_media(make_job(source("a.png"), source("voice.mp3")), s3)
    assert f"audio s3://{BUCKET}/voice.mp3 is not a recognised audio file" in caught.value.cause
    assert "accepts aac, m4a, mp3, wav" in caught.value.cause


def test_audio_uploaded_as_png_is_invalid_media(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=speech_audio(0.5))
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    with pytest.raises(InvalidMedia, match=f"image s3://{BUCKET}/a.png is not a recognised image"):
        validate_media(make_job(source("a.png"), source("a.wav")), s3)


@pytest.mark.parametrize("empty", ["image", "audio"])
def test_zero_byte_file_is_empty(s3: Any, empty: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=b"" if empty == "image" else portrait_png(64))
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=b"" if empty == "audio" else speech_audio(0.5))
    with pytest.raises(InvalidMedia) as caught:
        validate_media(make_job(source("a.png"), source("a.wav")), s3)
    key = "a.png" if empty == "image" else "a.wav"
    assert caught.value.cause == f"{empty} s3://{BUCKET}/{key} is empty (0 bytes)"


def test_png_signature_with_a_broken_header_is_invalid_media(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    with pytest.raises(InvalidMedia, match=f"image s3://{BUCKET}/a.png has an unreadable header"):
        validate_media(make_job(source("a.png"), source("a.wav")), s3)


@pytest.mark.parametrize("field", ["image", "audio"])
def test_https_source_is_refused(s3: Any, field: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=portrait_png(64))
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    url = MediaSource(url="https://cdn.example.com/media")
    job = make_job(url, source("a.wav")) if field == "image" else make_job(source("a.png"), url)
    with pytest.raises(InvalidRequest, match="https:// inputs are not accepted by this release yet"):
        validate_media(job, s3)
