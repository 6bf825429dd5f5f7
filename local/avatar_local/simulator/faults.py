"""Fault injection: queued faults that replace the normal handling of the next matching requests."""

import json
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from http import HTTPStatus
from typing import ClassVar, Literal, get_args

from flask import Response, request
from pydantic import Field

from .bodies import RequestBody

Operation = Literal["submit", "result", "download", "callback"]
OPERATIONS: tuple[str, ...] = get_args(Operation)
# Faults any request can suffer, whatever the operation.
REQUEST_FAULTS = frozenset({"throttle", "server_error", "reset", "slow"})
# The provider refuses the request with its own error envelope, whose message quotes the request as received: every
# header (Authorization, X-Date, signatures) and the raw body (the presigned input URLs).
ECHO = "echo"
ECHO_STATUSES = (400, 401, 403)
ECHO_DEFAULT_STATUS = 401
OPERATION_FAULTS = {
    "submit": frozenset({"task_failed", ECHO}),
    "result": frozenset({"expired_url", ECHO}),
    "download": frozenset({"truncated", "wrong_type"}),
}
# What can happen to a task's final callback (see callbacks.py); no request-level fault applies to a callback.
CALLBACK = "callback"
CALLBACK_FAULTS = frozenset({"lost", "duplicated", "delayed", "bad_signature", "replayed"})
# Kinds that take ``seconds``.
TIMED_FAULTS = frozenset({"slow", "delayed"})
# Faults only one provider's protocol expresses (its own error codes), per (provider, operation).
PROVIDER_FAULTS: dict[tuple[str, str], frozenset[str]] = {
    ("kling", operation): frozenset({"concurrency", "arrears", "content_safety", "auth_expired"})
    for operation in ("submit", "result")
}
PROVIDER_FAULTS[("volcengine", "submit")] = frozenset({"concurrency", "moderation", "no_subject"})
PROVIDER_FAULTS[("volcengine", "result")] = frozenset({"concurrency", "moderation", "not_found", "expired"})
# Kinds that take a provider business error ``code``, by provider.
CODE_FAULTS: dict[str, frozenset[str]] = {"volcengine": frozenset({"task_failed", "moderation"})}
SECONDS_PROBLEM = "seconds applies to slow and delayed only and must be a non-negative number"
_SPEC_FIELDS = frozenset({"provider", "operation", "fault", "times", "status", "seconds", "code"})

ErrorResponder = Callable[[int, str], Response]
"""Builds a provider's error response from an HTTP status and a message."""


@dataclass(frozen=True)
class Fault:
    provider: str
    operation: str
    kind: str
    times: int = 1
    status: int | None = None
    seconds: float = 5.0
    code: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class FaultRegistry:
    """Thread-safe queue of faults; each one affects its next ``times`` matching requests."""

    def __init__(self, providers: Iterable[str], callbacks: Mapping[str, bool]) -> None:
        """``callbacks``: the providers that can call back, and whether they sign their callbacks."""
        self._providers = tuple(providers)
        self._callbacks = dict(callbacks)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, spec: Mapping[str, object]) -> Fault:
        """Validate an admin request's JSON object and queue the fault it describes."""
        fault = self._parse(spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, provider: str, operation: str, kinds: Collection[str]) -> Fault | None:
        """Use up one application of the oldest queued fault of one of ``kinds``, if any."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if (fault.provider, fault.operation) == (provider, operation) and fault.kind in kinds:
                    if fault.times > 1:
                        self._faults[index] = replace(fault, times=fault.times - 1)
                    else:
                        del self._faults[index]
                    return fault
        return None

    def intercept(self, provider: str, operation: str, error: ErrorResponder) -> Response | None:
        """Apply a pending request-level fault: the response to send instead, or None to carry on."""
        fault = self.take(provider, operation, REQUEST_FAULTS)
        if fault is None:
            return None
        if fault.kind == "slow":
            time.sleep(fault.seconds)
            return None
        if fault.kind == "throttle":
            return error(429, "Too Many Requests")
        if fault.kind == "server_error":
            status = fault.status or 500
            return error(status, HTTPStatus(status).phrase)
        drop_connection(client_socket())
        # Never delivered: the server's write fails on the closed socket and is discarded.
        return Response(status=500)

    def echo(self, provider: str, operation: str, error: ErrorResponder) -> Response | None:
        """Apply a pending ``echo`` fault: the provider's error, built by ``error``, quoting the request."""
        fault = self.take(provider, operation, {ECHO})
        if fault is None:
            return None
        status = fault.status or ECHO_DEFAULT_STATUS
        return error(status, f"{HTTPStatus(status).phrase}; the request as received: {echoed_request()}")

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [fault.as_dict() for fault in self._faults]

    def _parse(self, spec: Mapping[str, object]) -> Fault:
        given = FaultSpec.parse(spec)
        provider, operation, kind = given.provider, given.operation, given.fault
        if provider not in self._providers:
            raise ValueError(f"provider must be one of: {', '.join(self._providers)}")
        self._check_kind(provider, operation, kind)
        status = given.status
        if status is not None and not (
            (kind == "server_error" and status >= 500) or (kind == ECHO and status in ECHO_STATUSES)
        ):
            statuses = ", ".join(map(str, ECHO_STATUSES))
            raise ValueError(f"status applies to server_error (a 5xx code) and echo ({statuses}) only")
        if "seconds" in given.model_fields_set and kind not in TIMED_FAULTS:
            raise ValueError(SECONDS_PROBLEM)
        if given.code is not None and kind not in CODE_FAULTS.get(provider, ()):
            kinds = ", ".join(sorted(CODE_FAULTS.get(provider, ()))) or "no fault of this provider"
            raise ValueError(f"code applies to {kinds} only and must be a provider business code")
        return Fault(provider, operation, kind, given.times, status, given.seconds, given.code)

    def _check_kind(self, provider: str, operation: str, kind: str) -> None:
        if operation == CALLBACK:
            self._check_callback(provider, kind)
            return
        allowed = REQUEST_FAULTS | OPERATION_FAULTS[operation] | PROVIDER_FAULTS.get((provider, operation), frozenset())
        if kind not in allowed:
            raise ValueError(f"fault for {operation} must be one of: {', '.join(sorted(allowed))}")

    def _check_callback(self, provider: str, kind: str) -> None:
        if provider not in self._callbacks:
            raise ValueError(f"{provider} sends no callbacks; callback faults apply to: {', '.join(self._callbacks)}")
        if kind not in CALLBACK_FAULTS:
            raise ValueError(f"fault for callback must be one of: {', '.join(sorted(CALLBACK_FAULTS))}")
        if kind == "bad_signature" and not self._callbacks[provider]:
            raise ValueError(
                f"bad_signature needs signed callbacks, and {provider}'s are unsigned: "
                f"give its credentials a webhook_secret (whsec_<base64>)"
            )


class FaultSpec(RequestBody):
    """``POST /_simulator/faults``: which requests a fault affects, and how."""

    problems: ClassVar = {
        "provider": "provider must be a provider name",
        "operation": f"operation must be one of: {', '.join(OPERATIONS)}",
        "fault": "fault must be a fault kind",
        "times": "times must be a positive integer",
        "status": f"status must be a 5xx code (server_error) or one of {', '.join(map(str, ECHO_STATUSES))} (echo)",
        "seconds": SECONDS_PROBLEM,
        "code": "code must be a provider business code (10001 to 99999)",
    }

    provider: str
    operation: Operation
    fault: str
    times: int = Field(1, ge=1)
    status: int | None = Field(None, ge=400, le=599)
    seconds: float = Field(5.0, ge=0)
    code: int | None = Field(None, ge=10001, le=99999)


def echoed_request() -> str:
    """The current request as a server that quotes it back shows it: method, path and query, headers, raw body."""
    path = request.full_path.removesuffix("?")
    headers = json.dumps(dict(request.headers), ensure_ascii=False)
    body = request.get_data(cache=True, as_text=True) or "(empty)"
    return f"{request.method} {path} headers {headers} body {body}"


def client_socket() -> socket.socket:
    """The current request's connection (werkzeug's development server exposes it)."""
    sock: socket.socket = request.environ["werkzeug.socket"]
    return sock


def drop_connection(sock: socket.socket) -> None:
    """End the connection without (more of) a response; the client sees it closed mid-exchange."""
    sock.shutdown(socket.SHUT_RDWR)
