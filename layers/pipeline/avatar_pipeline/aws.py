"""AWS clients, created once per execution environment, from one botocore session.

botocore's session rather than boto3's: a boto3 client is a botocore client that boto3's session makes, and importing
boto3 imports s3transfer and, through it, multiprocessing (a twentieth of a handler's import), for managed transfers
and resources the pipeline never uses. dynamo.py converts attribute values without boto3 for the same reason; only
Powertools' parameters (credentials.py) still load it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, cast

from botocore.config import Config
from botocore.session import Session, get_session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, signature_version="s3v4")
# Uploads carry a CRC-32 that S3 checks (parts.py): a SigV4 SHA-256 of each payload as well would be a second pass
# over every byte for no more safety. botocore leaves payloads unsigned by itself only when it computes the
# checksum; the copy computes its own, once, so it says so here. Headers are still signed, and on AWS the requests
# go over HTTPS.
S3_CONFIG = _CONFIG.merge(Config(s3={"payload_signing_enabled": False}))


@cache
def _session() -> Session:
    return get_session()


@cache
def s3() -> S3Client:
    return cast("S3Client", _session().create_client("s3", config=S3_CONFIG))


@cache
def dynamodb() -> DynamoDBClient:
    return cast("DynamoDBClient", _session().create_client("dynamodb", config=_CONFIG))


@cache
def events() -> EventBridgeClient:
    return cast("EventBridgeClient", _session().create_client("events", config=_CONFIG))


@cache
def stepfunctions() -> SFNClient:
    return cast("SFNClient", _session().create_client("stepfunctions", config=_CONFIG))


@cache
def lambda_client() -> LambdaClient:
    return cast("LambdaClient", _session().create_client("lambda", config=_CONFIG))


# SignVideo runs for up to its 900 s timeout while PersistResult waits on the answer; botocore's 60 s read timeout
# would give up (and its retry would sign again). One attempt: the state machine retries PersistResult as a whole.
_SIGNING_CONFIG = _CONFIG.merge(
    Config(read_timeout=910, connect_timeout=10, retries={"mode": "standard", "total_max_attempts": 1})
)


@cache
def signing_lambda() -> LambdaClient:
    return cast("LambdaClient", _session().create_client("lambda", config=_SIGNING_CONFIG))
