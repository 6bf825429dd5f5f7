"""Volcengine's answers: the business envelope, the business and gateway code tables, and how an answer reads.

Business envelope ``{code, message, data, request_id, ...}``, success ``code == 10000``; gateway errors (signature,
unknown action, limits) ``{"ResponseMetadata": {RequestId, ..., Error: {Code, Message}}}`` with an HTTP error status.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import InvalidMedia, ProviderRejected, ProviderThrottled, ProviderUnavailable
from .api import Accepted, Answer, Refusal
from .classify import AUTH_STATUSES, CodeTable, Meaning, by_status, classify

NAME = "volcengine"
SUCCESS = 10000
ACCESS_KEY_HINT = "check the volcengine access key in the provider secret"

# Business codes (the OmniHuman API page and the platform's common codes, volcengine.com/docs/6973/152544), each
# with what it means for the job.
BUSINESS_CODES: CodeTable = {
    50429: (ProviderThrottled, "the API's QPS limit was reached"),
    50430: (ProviderThrottled, "the API's concurrency limit was reached"),
    50500: (ProviderUnavailable, "internal error"),
    50501: (ProviderUnavailable, "internal algorithm (RPC) error"),
    50511: (ProviderUnavailable, "the output image did not pass moderation (documented as retryable)"),
    50411: (ProviderRejected, "refused by moderation, the input image did not pass moderation"),
    50412: (ProviderRejected, "refused by moderation, the input text did not pass moderation"),
    50512: (ProviderRejected, "refused by moderation, the output text did not pass moderation"),
    50513: (ProviderRejected, "refused by moderation, the input video did not pass moderation"),
    50514: (ProviderRejected, "refused by moderation, the input audio did not pass moderation"),
    50413: (ProviderRejected, "refused by moderation, the input text contains sensitive or copyrighted words"),
    50215: (InvalidMedia, "the input is invalid for this service (for example audio of 60 s or more)"),
    50200: (ProviderRejected, "the request parameters were refused"),
    50400: (ProviderRejected, f"permission, timestamp or signature refused; {ACCESS_KEY_HINT}"),
    50402: (ProviderRejected, "the API does not exist or is not enabled for this account"),
}
# Gateway error codes: the credentials or the signature were refused, or the signing clock is off.
GATEWAY_AUTH_CODES = (
    "SignatureDoesNotMatch",
    "InvalidAccessKey",
    "InvalidAuthorization",
    "InvalidCredential",
    "MissingAuthenticationToken",
    "InvalidSecretToken",
    "AccessDenied",
)
GATEWAY_CODES: CodeTable = {
    **dict.fromkeys(GATEWAY_AUTH_CODES, (ProviderRejected, "credentials refused")),
    "InvalidTimestamp": (ProviderRejected, "check the clock of the machine signing the request"),
}
THROTTLE_MARKERS = ("Throttl", "FlowLimit", "RequestLimit")


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: int
    message: str | None = None
    data: Any = None
    request_id: str | None = None


class VolcengineDialect:
    name = NAME
    credentials_hint = ACCESS_KEY_HINT

    def read(self, answer: Answer, what: str) -> Accepted | Refusal:
        metadata = (answer.body or {}).get("ResponseMetadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("Error"), dict):
            return _gateway_refusal(answer.status, metadata, what)
        try:
            envelope = Envelope.model_validate(answer.body)
        except ValidationError:
            envelope = None
        if envelope is not None and envelope.code != SUCCESS:
            return _business_refusal(envelope, answer.status, what)
        if envelope is None or not answer.is_success:
            return _unreadable(answer, what)
        return Accepted(envelope.data)


def _business_refusal(envelope: Envelope, status: int, what: str) -> Refusal:
    error, meaning = classify(status, envelope.code, BUSINESS_CODES, _unknown_business_code)
    said = f"code {envelope.code} ({envelope.message or 'no message'}; {_request_id(envelope.request_id)})"
    return Refusal(error, f"volcengine {what} answered {said}: {meaning}", envelope.code)


def _unreadable(answer: Answer, what: str) -> Refusal:
    """No envelope to read (or a success envelope on an error status): the HTTP status says it all."""
    detail = f"volcengine {what} answered HTTP {answer.status} without a readable envelope"
    snippet = answer.text[:200].strip()
    detail = f"{detail}: {snippet}" if snippet else detail
    return Refusal(by_status(answer.status)[0], detail, credentials=answer.status in AUTH_STATUSES)


def _gateway_refusal(status: int, metadata: dict[str, Any], what: str) -> Refusal:
    error: dict[str, Any] = metadata["Error"]
    code = str(error.get("Code") or "no code")
    message = str(error.get("Message") or "no message")
    kind, meaning = classify(status, code, GATEWAY_CODES, _unknown_gateway_code)
    said = f"HTTP {status} {code}: {message} ({_request_id(metadata.get('RequestId'))})"
    credentials = code in GATEWAY_CODES or status in AUTH_STATUSES
    return Refusal(kind, f"volcengine {what} answered {said}; {meaning}", code, credentials)


def _unknown_business_code(code: int | str, status: int) -> Meaning:
    if isinstance(code, int) and code >= 50500:
        return ProviderUnavailable, "unknown server-side code"
    return ProviderRejected, "unknown code"


def _unknown_gateway_code(code: int | str, status: int) -> Meaning:
    if any(marker in str(code) for marker in THROTTLE_MARKERS):
        return ProviderThrottled, "throttled"
    return by_status(status)


def _request_id(value: object) -> str:
    return f"request_id {value}" if value else "no request_id"
