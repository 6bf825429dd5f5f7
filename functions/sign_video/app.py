"""SignVideo: signs one stored video with C2PA content credentials, for PersistResult (``content_signing``).

Its only layer is the credentials layer (c2pa-python, Powertools and ``content_signing``); boto3 is the runtime's."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from content_signing.signing_key import signing_key
from content_signing.stored_video import SignRequest, sign_stored_video

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Settings:
    provider_secret_arn: str

    @classmethod
    def from_environment(cls) -> Settings:
        arn = os.environ.get("PROVIDER_SECRET_ARN", "")
        if not arn:
            raise RuntimeError("SignVideo needs PROVIDER_SECRET_ARN (the provider secret, which holds the c2pa key)")
        return cls(provider_secret_arn=arn)


SETTINGS = Settings.from_environment()
logger = Logger()
# Its calls are botocore's (S3, Secrets Manager), as in the other functions' tracers.
tracer = Tracer(patch_modules=["botocore", "httplib"])


@cache
def s3() -> S3Client:
    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 3}, signature_version="s3v4"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = SignRequest.parse(event)
    logger.append_keys(job_id=request.job_id)
    outcome = sign_stored_video(s3(), request, signing_key(SETTINGS.provider_secret_arn))
    if outcome.failure:
        logger.warning("video not signed", extra={"source_key": request.source_key, "reason": outcome.failure})
    else:
        logger.info("video signed", extra={"manifest_label": outcome.manifest_label})
    return outcome.as_result()
