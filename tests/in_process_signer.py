"""SignVideo's core in the test's process: what PersistResult's SignerFunction gets from a Lambda invoke, from the
same ``content_signing`` code against the same (moto) S3, for tests that run PersistResult's core in-process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avatar_pipeline.signed_output import SignOutcome
from content_signing.stored_video import SigningKey, SignRequest, sign_stored_video


@dataclass(frozen=True)
class InProcessSigner:
    s3: Any
    generator: str
    key: SigningKey | None

    def sign(self, job_id: str, bucket: str, source_key: str, destination_key: str) -> SignOutcome:
        request = SignRequest(job_id, bucket, source_key, destination_key, self.generator)
        outcome = sign_stored_video(self.s3, request, self.key)
        return SignOutcome(outcome.manifest_label, outcome.failure)
