"""``storage``: S3 failures while reading inputs surface as contract errors naming the object, never raw."""

from typing import Any

import pytest
from avatar_pipeline.errors import InvalidRequest, ProviderUnavailable
from avatar_pipeline.models import S3Location
from avatar_pipeline.storage import existing_event_key, object_size, read_manifest
from botocore.exceptions import ClientError, EndpointConnectionError

IMAGE = S3Location(bucket="avatar-input", key="media/a.png")
MANIFEST = S3Location(bucket="avatar-input", key="jobs/a.json")


class FailingS3:
    """Every call raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def fail(**kwargs: Any) -> Any:
            raise self.error

        return fail


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "S3")


FAILURES = [
    (client_error("SlowDown"), ProviderUnavailable, "answered SlowDown (retried)"),
    (client_error("AccessDenied"), InvalidRequest, "was refused: AccessDenied"),
    (client_error("NoSuchBucket"), InvalidRequest, "failed: it does not exist (NoSuchBucket)"),
    (
        EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
        ProviderUnavailable,
        "failed: EndpointConnectionError (retried)",
    ),
]
IDS = ["throttled", "refused", "no-bucket", "unreachable"]


@pytest.mark.parametrize(("error", "raised", "ending"), FAILURES, ids=IDS)
def test_object_size(error: Exception, raised: type[Exception], ending: str) -> None:
    with pytest.raises(raised) as caught:
        object_size(FailingS3(error), "image", IMAGE)  # type: ignore[arg-type]
    assert str(caught.value) == f"reading the size of image {IMAGE.uri} {ending}"


@pytest.mark.parametrize(("error", "raised", "ending"), FAILURES, ids=IDS)
def test_read_manifest(error: Exception, raised: type[Exception], ending: str) -> None:
    with pytest.raises(raised) as caught:
        read_manifest(FailingS3(error), MANIFEST, None, 1024)  # type: ignore[arg-type]
    assert str(caught.value) == f"reading manifest {MANIFEST.uri} {ending}"


@pytest.mark.parametrize(("error", "raised", "ending"), FAILURES, ids=IDS)
def test_existing_event_key(error: Exception, raised: type[Exception], ending: str) -> None:
    with pytest.raises(raised) as caught:
        existing_event_key(FailingS3(error), "avatar-input", "drop/a+b.png")  # type: ignore[arg-type]
    assert str(caught.value) == f"listing s3://avatar-input/drop/a+b.png {ending}"


def test_a_missing_input_still_says_to_upload_it() -> None:
    with pytest.raises(InvalidRequest) as caught:
        object_size(FailingS3(client_error("404")), "audio", IMAGE)  # type: ignore[arg-type]
    assert str(caught.value) == f"audio {IMAGE.uri} does not exist; upload it before the manifest"
