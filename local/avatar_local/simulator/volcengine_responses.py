"""Volcengine's envelopes and codes, and the faults as its gateway and business codes answer them.

Business ``{code, message, data, request_id, status, time_elapsed}`` (success 10000, ``data`` null otherwise);
gateway errors as ``{"ResponseMetadata": {RequestId, Action, Version, Service, Region, Error: {Code, Message}}}``.
"""

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from flask import Response, g, jsonify

from .state import SimulatorState

NAME = "volcengine"
VERSION = "2022-08-31"
REGION = "cn-north-1"
SERVICE = "cv"
SUCCESS = 10000
BAD_PARAMETERS = 50200
INVALID_INPUT = 50215
CONCURRENT_LIMIT = 50430
TASK_FAILED_DEFAULT = 50501

MESSAGES = {
    SUCCESS: "Success",
    BAD_PARAMETERS: "Invalid Parameter",
    INVALID_INPUT: "Input invalid for this service.",
    50400: "Access Denied",
    50402: "API Not Found",
    50411: "Pre Img Risk Not Pass",
    50511: "Post Img Risk Not Pass",
    50412: "Text Risk Not Pass",
    50512: "Post Text Risk Not Pass",
    50513: "Pre Video Risk Not Pass",
    50514: "Pre Audio Risk Not Pass",
    50413: "Post Text Risk Not Pass",
    50429: "Request Has Reached API Limit, Please Try Later",
    CONCURRENT_LIMIT: "Request Has Reached API Concurrent Limit, Please Try Later",
    50500: "Internal Error",
    TASK_FAILED_DEFAULT: "Internal RPC Error",
}
_HTTP_STATUS = {SUCCESS: 200, 50429: 429, CONCURRENT_LIMIT: 429, 50500: 500, TASK_FAILED_DEFAULT: 500}


def start_timing() -> None:
    """Mark the request's start, for ``time_elapsed``."""
    g.volcengine_started = time.monotonic()


def success(data: dict[str, Any]) -> Response:
    return _envelope(SUCCESS, MESSAGES[SUCCESS], data)


def business_error(code: int, message: str | None = None, *, http_status: int | None = None) -> Response:
    text = message if message is not None else MESSAGES.get(code, "Simulated error")
    if code == BAD_PARAMETERS and message is not None:
        text = f"{MESSAGES[BAD_PARAMETERS]}: {message}"
    return _envelope(code, text, None, http_status or _HTTP_STATUS.get(code, 400))


def invalid_input(reason: str) -> Response:
    """Business code 50215, saying why the input is invalid."""
    return business_error(INVALID_INPUT, f"{MESSAGES[INVALID_INPUT]} ({reason})")


def gateway_error(status: int, code: str, message: str, action: str, version: str) -> Response:
    metadata = {
        "RequestId": _request_id(),
        "Action": action,
        "Version": version,
        "Service": SERVICE,
        "Region": REGION,
        "Error": {"Code": code, "Message": message},
    }
    response = jsonify(ResponseMetadata=metadata)
    response.status_code = status
    return response


def interrupt(state: SimulatorState, operation: str, action: str) -> Response | None:
    """The answer of a pending fault of ``operation``, or None to carry on."""
    faults = state.faults
    interrupted = faults.intercept(NAME, operation, _fault_error)
    if interrupted is None:
        fault = faults.take(NAME, operation, {"concurrency", "moderation"})
        if fault is not None:
            code = CONCURRENT_LIMIT if fault.kind == "concurrency" else fault.code or 50411
            interrupted = business_error(code)
    if interrupted is None:
        interrupted = faults.echo(NAME, operation, lambda status, message: _echo(status, message, action))
    return interrupted


def _fault_error(status: int, message: str) -> Response:
    """Request-level faults as Volcengine answers them: 429 → 50429, 5xx → 50500 (with that HTTP status)."""
    if status == 429:
        return business_error(50429)
    return business_error(50500, http_status=status)


def _echo(status: int, message: str, action: str) -> Response:
    """The ``echo`` fault: refused by the gateway (401, 403) or as bad parameters (400), quoting the request."""
    if status == 400:
        return business_error(BAD_PARAMETERS, message)
    code = "SignatureDoesNotMatch" if status == 401 else "AccessDenied"
    return gateway_error(status, code, message, action, VERSION)


def _request_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d%H%M%S}{secrets.token_hex(10).upper()}"


def _envelope(code: int, message: str, data: dict[str, Any] | None, http_status: int = 200) -> Response:
    started = getattr(g, "volcengine_started", time.monotonic())
    response = jsonify(
        code=code,
        message=message,
        data=data,
        request_id=_request_id(),
        status=code,
        time_elapsed=f"{(time.monotonic() - started) * 1000:.6f}ms",
    )
    response.status_code = http_status
    return response
