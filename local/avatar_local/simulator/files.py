"""Serves result files behind expiring signed URLs, behaving the way S3 presigned URLs do."""

import hashlib
import time
from collections.abc import Iterator

from flask import Blueprint, Response, request

from .faults import client_socket, drop_connection
from .state import SimulatorState

_S3_ERRORS = {403: "AccessDenied", 404: "NoSuchKey", 429: "SlowDown", 503: "SlowDown"}
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_WRONG_TYPE_PAGE = b"<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"


class Files:
    """``GET /_simulator/files/<task_id>.mp4``: a task's video, as its signed URL allows."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state

    def blueprint(self) -> Blueprint:
        blueprint = Blueprint("files", __name__)
        blueprint.add_url_rule("/_simulator/files/<task_id>.mp4", view_func=self.download, methods=["GET"])
        return blueprint

    def download(self, task_id: str) -> Response:
        state = self._state
        state.stats.count_download()
        refused = refuse_unsigned(state, task_id)
        if refused is not None:
            return refused
        task = state.tasks.get(task_id)
        if task is None or task.video is None:
            return s3_error(404, "The specified key does not exist.")
        interrupted = state.faults.intercept(task.provider, "download", s3_error)
        if interrupted is not None:
            return interrupted
        fault = state.faults.take(task.provider, "download", {"truncated", "wrong_type"})
        if fault is not None and fault.kind == "wrong_type":
            return Response(_WRONG_TYPE_PAGE, mimetype="text/html")
        if fault is not None:
            return _truncated(task.video)
        response = Response(task.video, mimetype="video/mp4")
        response.set_etag(hashlib.md5(task.video, usedforsecurity=False).hexdigest())
        response.make_conditional(request, accept_ranges=True, complete_length=len(task.video))
        return response


def result_url(state: SimulatorState, provider: str, key: str) -> str:
    """A fresh signed URL of a task's video; a pending ``expired_url`` fault makes it already expired."""
    expired = state.faults.take(provider, "result", {"expired_url"}) is not None
    return state.signer.url(request.host_url.rstrip("/"), key, expired=expired)


def refuse_unsigned(state: SimulatorState, key: str) -> Response | None:
    """S3's answer to a request for ``key`` whose URL is badly signed or expired; None if it may be served."""
    expires = request.args.get("expires", "")
    if not state.signer.verify(key, expires, request.args.get("signature", "")):
        return s3_error(403, "The request signature does not match.", code="SignatureDoesNotMatch")
    if int(expires) <= time.time():
        return s3_error(403, "Request has expired")
    return None


def s3_error(status: int, message: str, *, code: str | None = None) -> Response:
    """An S3 error document; ``code`` defaults to S3's code for the status."""
    code = code or _S3_ERRORS.get(status, "InternalError")
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(_XML_DECLARATION + body, status=status, mimetype="application/xml")


def _truncated(video: bytes) -> Response:
    """Announce the whole file, send half of it, then close the connection."""
    sock = client_socket()

    def body() -> Iterator[bytes]:
        yield video[: len(video) // 2]
        drop_connection(sock)

    headers = {"Content-Length": str(len(video)), "Connection": "close"}
    return Response(body(), mimetype="video/mp4", headers=headers, direct_passthrough=True)
