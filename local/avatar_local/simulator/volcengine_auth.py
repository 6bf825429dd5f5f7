"""The Volcengine gateway's check of a request's SignerV4 signature.

The signature is recomputed from the request as received by the official ``volcengine`` SDK
(``SignerV4.sign_only``), an implementation independent of the pipeline's signer. The SDK signs what it signs:
``Content-Type``, ``Content-Md5``, ``Host`` and the ``X-*`` headers, names sorted; a request signed over other
headers does not match.
"""

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, request
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

from .volcengine_responses import REGION, SERVICE, gateway_error

MAX_CLOCK_SKEW = timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    r"HMAC-SHA256 Credential=(?P<access_key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/request, SignedHeaders=(?P<headers>[a-z0-9-]+(?:;[a-z0-9-]+)*), Signature=(?P<signature>[0-9a-f]{64})"
)
_REQUIRED_SIGNED_HEADERS = ("host", "x-content-sha256", "x-date")
# A gateway refusal: HTTP status, error code, message.
Refusal = tuple[int, str, str]


def authenticate(credentials: Mapping[str, Any], action: str, version: str) -> Response | None:
    """The gateway error to answer the current request with, or None if it is signed with ``credentials``."""
    refusal = _refusal(credentials)
    return None if refusal is None else gateway_error(*refusal, action, version)


def _refusal(credentials: Mapping[str, Any]) -> Refusal | None:
    authorization = request.headers.get("Authorization")
    if not authorization:
        return 401, "MissingAuthenticationToken", "Request is missing Authentication Token"
    match = _AUTHORIZATION.fullmatch(authorization.strip())
    if match is None:
        return 400, "InvalidAuthorization", "The Authorization header is malformed"
    access_key, secret_key = credentials.get("access_key_id"), credentials.get("secret_access_key")
    if not access_key or not secret_key or not hmac.compare_digest(match["access_key"], str(access_key)):
        return 401, "InvalidAccessKey", "The access key is invalid or disabled"
    if (match["region"], match["service"]) != (REGION, SERVICE):
        scope = f"{match['date']}/{REGION}/{SERVICE}/request"
        return 401, "SignatureDoesNotMatch", f"The credential scope must be {scope}"
    signed_at = _signed_at(match)
    if isinstance(signed_at, tuple):
        return signed_at
    credential = Credentials(str(access_key), str(secret_key), SERVICE, REGION)
    return _signature_refusal(match, signed_at, authorization.strip(), credential)


def _signed_at(match: re.Match[str]) -> datetime | Refusal:
    """When the request was signed (X-Date), if that is a time the gateway takes and the credential's date."""
    x_date = request.headers.get("X-Date", "")
    try:
        signed_at = datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return 400, "InvalidTimestamp", "X-Date must be a UTC time as YYYYMMDDTHHMMSSZ"
    if abs(datetime.now(UTC) - signed_at) > MAX_CLOCK_SKEW:
        return 400, "InvalidTimestamp", "X-Date is more than 15 minutes away from the server's time"
    if match["date"] != x_date[:8]:
        return 401, "SignatureDoesNotMatch", "The credential date does not match X-Date"
    return signed_at


def _signature_refusal(
    match: re.Match[str], signed_at: datetime, authorization: str, credential: Credentials
) -> Refusal | None:
    names = match["headers"].split(";")
    missing = [name for name in _REQUIRED_SIGNED_HEADERS if name not in names]
    if missing:
        return 401, "SignatureDoesNotMatch", f"SignedHeaders must include {', '.join(missing)}"
    if request.headers.get("X-Content-Sha256", "") != hashlib.sha256(request.get_data(cache=True)).hexdigest():
        return 401, "SignatureDoesNotMatch", "X-Content-Sha256 does not match the request body"
    if any(name not in request.headers for name in names):
        return 401, "SignatureDoesNotMatch", "A signed header is missing from the request"
    if not hmac.compare_digest(_sdk_authorization(names, signed_at, credential), authorization):
        return 401, "SignatureDoesNotMatch", "The request signature we calculated does not match"
    return None


def _sdk_authorization(names: list[str], signed_at: datetime, credentials: Credentials) -> str:
    """The Authorization header the SDK computes for the current request over the headers named ``names``."""
    param = SignParam()
    param.set_method(request.method)
    param.set_path(request.path)
    param.set_query(OrderedDict((key, request.args.getlist(key)) for key in request.args))
    param.set_body(request.get_data(cache=True))
    param.set_date(signed_at)
    # The SDK picks the headers to sign by their canonical spelling (Host, Content-Type, X-Date).
    headers = ((name.title(), request.headers[name]) for name in names)
    param.set_header_list(OrderedDict(headers))
    return str(SignerV4.sign_only(param, credentials).authorization)
