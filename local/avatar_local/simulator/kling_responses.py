"""Kling's envelopes: ``{"code": 0, "message": "SUCCEED", "request_id", "data"}``, or an HTTP status with
``{"code", "message", "request_id"}``; and the faults as Kling's documented codes answer them."""

import uuid
from collections.abc import Mapping
from typing import Any

import jwt
from flask import Response, jsonify, request

from .state import SimulatorState

NAME = "kling"
# (HTTP status, code, message) of the Kling-only faults; throttle and server_error go through ``_fault_error``.
FAULTS: dict[str, tuple[int, int, str]] = {
    "concurrency": (429, 1303, "Concurrency or QPS exceeds the resource pack limit"),
    "arrears": (429, 1101, "Account in arrears"),
    "content_safety": (400, 1301, "Triggered the content security policy of the platform"),
    "auth_expired": (401, 1004, "token expired"),
}
_SERVER_ERROR_CODES = {500: 5000, 503: 5001, 504: 5002}
# The ``echo`` fault's code per HTTP status: invalid parameter value, authorization invalid, no access.
_ECHO_CODES = {400: 1201, 401: 1002, 403: 1103}


def success(data: dict[str, Any]) -> Response:
    return jsonify(code=0, message="SUCCEED", request_id=str(uuid.uuid4()), data=data)


def error(status: int, code: int, message: str) -> Response:
    response = jsonify(code=code, message=message, request_id=str(uuid.uuid4()))
    response.status_code = status
    return response


def interrupt(state: SimulatorState, operation: str) -> Response | None:
    """The answer of a pending fault of ``operation``, or None to carry on."""
    fault = state.faults.take(NAME, operation, FAULTS.keys())
    if fault is not None:
        return error(*FAULTS[fault.kind])
    return state.faults.intercept(NAME, operation, _fault_error) or state.faults.echo(NAME, operation, _echo_error)


def authenticate(credentials: Mapping[str, Any]) -> Response | None:
    """``Bearer <api_key>``, or ``Bearer <JWT>`` (HS256, ``iss`` the access key, ``exp`` required); None if valid."""
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return error(401, 1001, "Authorization is empty")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme != "Bearer" or not token:
        return error(401, 1002, "Authorization is invalid")
    api_key = credentials.get("api_key")
    if isinstance(api_key, str) and api_key and token == api_key:
        return None
    secret_key, access_key = credentials.get("secret_key"), credentials.get("access_key")
    if not isinstance(secret_key, str) or not secret_key or token.count(".") != 2:
        return error(401, 1002, "Authorization is invalid")
    try:
        claims = jwt.decode(token, secret_key, algorithms=["HS256"], options={"require": ["iss", "exp"]})
    except jwt.ExpiredSignatureError:
        return error(401, 1004, "token expired")
    except jwt.ImmatureSignatureError:
        return error(401, 1003, "token not yet valid")
    except jwt.InvalidTokenError:
        return error(401, 1002, "Authorization is invalid: bad token or signature")
    if claims.get("iss") != access_key:
        return error(401, 1000, "Authentication failed: unknown access key")
    return None


def _fault_error(status: int, message: str) -> Response:
    if status == 429:
        return error(429, 1302, "API request too fast, exceeding the rate limit")
    return error(status, _SERVER_ERROR_CODES.get(status, 5000), message)


def _echo_error(status: int, message: str) -> Response:
    return error(status, _ECHO_CODES[status], message)
