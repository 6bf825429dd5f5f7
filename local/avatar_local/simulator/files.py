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


def files_blueprint(state: SimulatorState) -> Blueprint:
    blueprint = Blueprint("files", __name__)
    tasks, faults, stats, signer = state.tasks, state.faults, state.stats, state.signer

    @blueprint.get("/_simulator/files/<task_id>.mp4")
    def download(task_id: str) -> Response:
        stats.count_download()
        expires = request.args.get("expires", "")
        if not signer.verify(task_id, expires, request.args.get("signature", "")):
            return _s3_error(403, "The request signature does not match.", code="SignatureDoesNotMatch")
        if int(expires) <= time.time():
            return _s3_error(403, "Request has expired")
        task = tasks.get(task_id)
        if task is None or task.video is None:
            return _s3_error(404, "The specified key does not exist.")
        interrupted = faults.intercept(task.provider, "download", _s3_error)
        if interrupted is not None:
            return interrupted
        fault = faults.take(task.provider, "download", {"truncated", "wrong_type"})
        if fault is not None and fault.kind == "wrong_type":
            return Response(_WRONG_TYPE_PAGE, mimetype="text/html")
        if fault is not None:
            return _truncated(task.video)
        response = Response(task.video, mimetype="video/mp4")
        response.set_etag(hashlib.md5(task.video, usedforsecurity=False).hexdigest())
        response.make_conditional(request, accept_ranges=True, complete_length=len(task.video))
        return response

    return blueprint


def _truncated(video: bytes) -> Response:
    """Announce the whole file, send half of it, then close the connection."""
    sock = client_socket()

    def body() -> Iterator[bytes]:
        yield video[: len(video) // 2]
        drop_connection(sock)

    headers = {"Content-Length": str(len(video)), "Connection": "close"}
    return Response(body(), mimetype="video/mp4", headers=headers, direct_passthrough=True)


def _s3_error(status: int, message: str, *, code: str | None = None) -> Response:
    code = code or _S3_ERRORS.get(status, "InternalError")
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(_XML_DECLARATION + body, status=status, mimetype="application/xml")
