"""moto in-process, with fake credentials and fresh boto3 clients for every test."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from avatar_local.dynamodb_atomicity import install_serialized_dynamodb
from avatar_local.template import load_template
from avatar_pipeline import aws as pipeline_aws
from moto import mock_aws
from moto.core.request import Request as MotoRequest

from tests import moto_bodies

ROOT = Path(__file__).resolve().parents[2]

REGION = "us-east-1"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def clear_client_caches() -> None:
    for factory in (
        pipeline_aws.s3,
        pipeline_aws.dynamodb,
        pipeline_aws.events,
        pipeline_aws.stepfunctions,
        pipeline_aws.signing_lambda,
    ):
        factory.cache_clear()


@pytest.fixture(autouse=True, scope="session")
def moto_takes_bytearray_bodies() -> Iterator[None]:
    """As S3 does (``tests.moto_bodies``; ``test_moto_upstream`` shows the gap)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MotoRequest, "from_primitives", classmethod(moto_bodies.from_primitives))
        yield


@pytest.fixture
def atomic_dynamodb() -> Iterator[None]:
    """moto's DynamoDB applying each request whole, as DynamoDB does and as the local stack makes it
    (``dynamodb_atomicity``): for tests whose threads race on conditional writes. Without it, moto's unlocked backend
    can interleave two conditional writes and let both pass. Not autouse: ``test_moto_upstream`` reads moto's own
    handler."""
    uninstall = install_serialized_dynamodb()
    yield
    uninstall()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mocked_aws(aws_env: None) -> Iterator[None]:
    """Everything inside runs against moto; the pipeline's cached clients are rebuilt inside the mock."""
    clear_client_caches()
    with mock_aws():
        yield
    clear_client_caches()


def create_jobs_table(dynamodb: Any, name: str) -> None:
    """The jobs table exactly as template.yaml declares it (keys and indexes)."""
    properties = load_template(ROOT / "template.yaml")["Resources"]["JobsTable"]["Properties"]
    dynamodb.create_table(
        TableName=name,
        **{key: properties[key] for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")},
        BillingMode="PAY_PER_REQUEST",
    )


def create_admission_table(dynamodb: Any, name: str) -> None:
    """The admission table exactly as template.yaml declares it."""
    properties = load_template(ROOT / "template.yaml")["Resources"]["AdmissionTable"]["Properties"]
    dynamodb.create_table(
        TableName=name,
        **{key: properties[key] for key in ("AttributeDefinitions", "KeySchema")},
        BillingMode="PAY_PER_REQUEST",
    )
