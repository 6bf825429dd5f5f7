"""Media a request names: an http(s) URL to download, or raw base64 content; and the one way inputs are downloaded."""

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

import httpx
from pydantic_core import PydanticCustomError

MediaRef = str | bytes
"""An http(s) URL to download, or content the request carried inline."""

HTTP_SCHEMES = ("http://", "https://")


class DownloadError(Exception):
    """An input could not be downloaded; the message says which and why."""


def download(what: str, ref: MediaRef, *, timeout: float, limit: int | None = None) -> bytes:
    """The bytes of ``ref``; a download stops once it is over ``limit`` bytes (the caller sees it is too large)."""
    if isinstance(ref, bytes):
        return ref
    received = bytearray()
    try:
        # trust_env=False: inputs are normally on loopback, which an environment proxy must not intercept.
        with httpx.stream("GET", ref, timeout=timeout, follow_redirects=True, trust_env=False) as response:
            if not response.is_success:
                raise DownloadError(f"failed to download {what}: HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                received += chunk
                if limit is not None and len(received) > limit:
                    break
    except httpx.HTTPError as exc:
        raise DownloadError(f"failed to download {what}: {str(exc) or type(exc).__name__}") from exc
    return bytes(received)


def http_url(value: object) -> str:
    """Pydantic validator of a required http(s) URL; its error types are ``required``, ``not_text``, ``not_url``."""
    text = _text(value)
    if not text.startswith(HTTP_SCHEMES):
        raise PydanticCustomError("not_url", "must be an http(s) URL")
    return text


def loopback_url(value: object) -> str:
    """Pydantic validator of an http(s) URL on this machine (a loopback address or ``localhost``), where the
    simulator may send callbacks; adds the error type ``not_loopback``."""
    text = http_url(value)
    try:
        host = urlsplit(text).hostname or ""
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise PydanticCustomError("not_loopback", "must be a loopback URL (127.0.0.1, [::1] or localhost)")
    return text


def media_ref(value: object) -> MediaRef:
    """Pydantic validator of a URL or raw base64; adds the error types ``data_prefix`` and ``not_base64``."""
    text = _text(value)
    if text.startswith(HTTP_SCHEMES):
        return text
    if text.startswith("data:"):
        raise PydanticCustomError("data_prefix", "must be raw base64, without a data: URI prefix")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise PydanticCustomError("not_base64", "must be an http(s) URL or base64-encoded data") from exc


def _text(value: object) -> str:
    if value is None or value == "":
        raise PydanticCustomError("required", "is required")
    if not isinstance(value, str):
        raise PydanticCustomError("not_text", "must be a string")
    return value
