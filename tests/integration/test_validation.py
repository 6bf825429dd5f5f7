"""``validate_media`` against inputs uploaded to a (moto) input bucket."""

import io
import ipaddress
import random
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest
from avatar_local.samples import portrait_jpeg, portrait_png, speech_audio
from avatar_pipeline.errors import InvalidMedia, InvalidRequest
from avatar_pipeline.fetch import FetchPolicy
from avatar_pipeline.models import Job, JobRequest, MediaSource, S3Location, ValidatedMedia
from avatar_pipeline.probe import TAIL_BYTES
from avatar_pipeline.s3reader import BLOCK_BYTES
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


def validate(job: Job, s3: Any, **kwargs: Any) -> ValidatedMedia:
    return validate_media(job, s3, input_bucket=BUCKET, **kwargs)


def make_job(image: MediaSource, audio: MediaSource | None) -> Job:
    """Without audio, a Kling job using a TTS ``audio_id`` (the one provider whose options can replace the audio)."""
    request = JobRequest.model_validate(
        {"image": image.display, **({"audio": audio.display} if audio else {"options": {"audio_id": "v"}})}
    )
    return Job(
        job_id="job-1",
        provider="wavespeed/omnihuman-1.5" if audio else "kling/avatar",
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
    media = validate(make_job(source("jobs/alice.png"), source("jobs/alice.wav")), s3)
    image = media.image.model_dump()
    assert 0 < image.pop("bytes_read") <= len(png)
    assert image == {
        "source": f"s3://{BUCKET}/jobs/alice.png",
        "location": {"bucket": BUCKET, "key": "jobs/alice.png"},
        "format": "png",
        "size_bytes": len(png),
        "width": 320,
        "height": 320,
        "duration_seconds": None,
        "duration_estimated": None,
        "sample_rate": None,
        "channels": None,
    }
    assert media.audio is not None
    assert media.audio.source == f"s3://{BUCKET}/jobs/alice.wav"
    assert media.audio.location == S3Location(bucket=BUCKET, key="jobs/alice.wav")
    assert media.audio.format == "wav"
    assert media.audio.size_bytes == len(wav)
    assert media.audio.duration_seconds == pytest.approx(2.5, abs=1e-3)
    assert media.audio.duration_estimated is None, "a WAV header states its duration exactly"
    assert (media.audio.sample_rate, media.audio.channels) == (24000, 1)


def test_jpeg_and_mp3_are_probed(s3: Any) -> None:
    jpeg, mp3 = portrait_jpeg(400), speech_audio(1.0, fmt="mp3")
    s3.put_object(Bucket=BUCKET, Key="media/bob.JPG", Body=jpeg)
    s3.put_object(Bucket=BUCKET, Key="media/bob.Mp3", Body=mp3)
    media = validate(make_job(source("media/bob.JPG"), source("media/bob.Mp3")), s3)
    assert (media.image.format, media.image.width, media.image.height) == ("jpeg", 400, 400)
    assert media.audio is not None
    assert (media.audio.format, media.audio.size_bytes) == ("mp3", len(mp3))
    # Ranged reads let mutagen find the duration of an MP3 too (its LAME/Xing header gives the frame count).
    assert media.audio.duration_seconds == pytest.approx(1.0, abs=0.1)
    assert media.audio.duration_estimated is None


def test_large_image_is_read_once_header_and_tail_first(s3: Any) -> None:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (600, 500), random.Random(3).randbytes(600 * 500 * 3)).save(buffer, format="PNG")
    png = buffer.getvalue()
    assert len(png) > 4 * BLOCK_BYTES, "several blocks: only the first and the last are needed"
    s3.put_object(Bucket=BUCKET, Key="big.png", Body=png)
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    ranges: list[str] = []
    s3.meta.events.register("before-call.s3.GetObject", lambda params, **_: ranges.append(params["headers"]["Range"]))
    media = validate(make_job(source("big.png"), source("a.wav")), s3)
    assert (media.image.size_bytes, media.image.width, media.image.height) == (len(png), 600, 500)
    # The image's first block (header) and the blocks holding its last TAIL_BYTES (IEND, one GET) come first,
    # each a bounded range, so a truncated or oversized image is refused before its data is read.
    first_tail_block = (len(png) - TAIL_BYTES) // BLOCK_BYTES * BLOCK_BYTES
    expected = [f"bytes=0-{BLOCK_BYTES - 1}", f"bytes={first_tail_block}-{len(png) - 1}"]
    assert ranges[: len(expected)] == expected
    # Then the decode pass reads the rest in one GET (header and tail blocks come from the cache): each byte once.
    assert ranges[len(expected)] == f"bytes={BLOCK_BYTES}-{first_tail_block - 1}"
    assert media.image.bytes_read == len(png)


def test_job_without_audio_probes_the_image_only(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=portrait_png(320))  # Kling's smallest side is 300 px
    assert validate(make_job(source("a.png"), None), s3).audio is None


@pytest.mark.parametrize("missing", ["image", "audio"])
def test_missing_object_names_it(s3: Any, missing: str) -> None:
    if missing != "image":
        s3.put_object(Bucket=BUCKET, Key="jobs/alice.png", Body=portrait_png(64))
    if missing != "audio":
        s3.put_object(Bucket=BUCKET, Key="jobs/alice.wav", Body=speech_audio(0.5))
    with pytest.raises(InvalidRequest) as caught:
        validate(make_job(source("jobs/alice.png"), source("jobs/alice.wav")), s3)
    extension = "png" if missing == "image" else "wav"
    assert caught.value.cause == (
        f"{missing} s3://{BUCKET}/jobs/alice.{extension} does not exist; upload it before the manifest"
    )


def test_png_uploaded_as_mp3_is_invalid_media(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=portrait_png(64))
    s3.put_object(Bucket=BUCKET, Key="voice.mp3", Body=portrait_png(64))
    with pytest.raises(InvalidMedia) as caught:
        validate(make_job(source("a.png"), source("voice.mp3")), s3)
    assert caught.value.cause == (
        f"audio s3://{BUCKET}/voice.mp3 is a png image, not audio; wavespeed/omnihuman-1.5 accepts aac, m4a, mp3, wav"
    )


def test_audio_uploaded_as_png_is_invalid_media(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=speech_audio(0.5))
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    with pytest.raises(InvalidMedia) as caught:
        validate(make_job(source("a.png"), source("a.wav")), s3)
    assert caught.value.cause == (
        f"image s3://{BUCKET}/a.png is wav audio, not an image; wavespeed/omnihuman-1.5 accepts jpeg, png, webp"
    )


@pytest.mark.parametrize("empty", ["image", "audio"])
def test_zero_byte_file_is_empty(s3: Any, empty: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=b"" if empty == "image" else portrait_png(64))
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=b"" if empty == "audio" else speech_audio(0.5))
    with pytest.raises(InvalidMedia) as caught:
        validate(make_job(source("a.png"), source("a.wav")), s3)
    key = "a.png" if empty == "image" else "a.wav"
    assert caught.value.cause == f"{empty} s3://{BUCKET}/{key} is empty (0 bytes)"


def test_png_signature_with_a_broken_header_is_invalid_media(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    with pytest.raises(InvalidMedia) as caught:
        validate(make_job(source("a.png"), source("a.wav")), s3)
    assert caught.value.cause == (
        f"image s3://{BUCKET}/a.png looks like png but has a corrupt or truncated header; "
        "wavespeed/omnihuman-1.5 accepts jpeg, png, webp images it can read"
    )
    assert "object at 0x" not in caught.value.cause, "no reader repr in a user-facing cause"


PUBLIC_ADDRESS = ipaddress.ip_address("93.184.216.34")
PUBLIC_ONLY = FetchPolicy(resolver=lambda host, port: [PUBLIC_ADDRESS])


def cdn(bodies: dict[str, bytes], seen: list[httpx.Request]) -> httpx.Client:
    """An https CDN as httpx sees it: requests go to the checked address, with the original Host."""

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = bodies.get(request.url.path)
        return httpx.Response(200, content=body) if body is not None else httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(respond))


@pytest.mark.parametrize("field", ["image", "audio"])
def test_https_source_is_fetched_into_the_input_bucket_then_probed(s3: Any, field: str) -> None:
    png, wav = portrait_png(64), speech_audio(0.5)
    s3.put_object(Bucket=BUCKET, Key="a.png", Body=png)
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=wav)
    url = MediaSource(url=f"https://cdn.example.com/media/{field}")
    job = make_job(url, source("a.wav")) if field == "image" else make_job(source("a.png"), url)
    seen: list[httpx.Request] = []
    with cdn({"/media/image": png, "/media/audio": wav}, seen) as http:
        media = validate(job, s3, http=http, fetch_policy=PUBLIC_ONLY)
    (request,) = seen
    assert str(request.url) == f"https://{PUBLIC_ADDRESS}/media/{field}"
    assert request.headers["Host"] == "cdn.example.com"
    fetched = S3Location(bucket=BUCKET, key=f"fetched/job-1/{field}")
    probe = media.image if field == "image" else media.audio
    assert probe is not None
    assert probe.source == f"https://cdn.example.com/media/{field}"
    assert probe.location == fetched
    stored = s3.get_object(Bucket=BUCKET, Key=fetched.key)["Body"].read()
    assert stored == (png if field == "image" else wav)


def test_https_source_without_a_client_is_refused(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    job = make_job(MediaSource(url="https://cdn.example.com/a.png"), source("a.wav"))
    with pytest.raises(InvalidRequest, match="image has neither an S3 location nor a fetchable URL"):
        validate(job, s3)


def test_https_source_on_a_private_address_is_refused_before_any_request(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    job = make_job(MediaSource(url="https://intranet.example.com/a.png"), source("a.wav"))
    seen: list[httpx.Request] = []
    policy = FetchPolicy(resolver=lambda host, port: [ipaddress.ip_address("10.1.2.3")])
    with cdn({}, seen) as http, pytest.raises(InvalidRequest) as caught:
        validate(job, s3, http=http, fetch_policy=policy)
    assert "intranet.example.com resolves to 10.1.2.3, which is not a public address" in caught.value.cause
    assert seen == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="fetched/")


def test_https_source_that_is_not_media_is_invalid_media_naming_the_url(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.wav", Body=speech_audio(0.5))
    job = make_job(MediaSource(url="https://cdn.example.com/page"), source("a.wav"))
    with cdn({"/page": b"<!doctype html><html></html>"}, []) as http, pytest.raises(InvalidMedia) as caught:
        validate(job, s3, http=http, fetch_policy=PUBLIC_ONLY)
    assert "image https://cdn.example.com/page is not a recognised image" in caught.value.cause
