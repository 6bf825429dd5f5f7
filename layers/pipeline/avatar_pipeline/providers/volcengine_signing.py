"""Volcengine OpenAPI request signing (SignerV4, HMAC-SHA256), and the httpx ``Auth`` that signs each request.

It reproduces the official SDK's ``volcengine.auth.SignerV4`` byte for byte:

- ``X-Date`` is the UTC time as ``YYYYMMDDTHHMMSSZ``; its first 8 characters are the short date.
- ``X-Content-Sha256`` is the hex SHA-256 of the exact body bytes sent.
- Signed headers: ``Content-Type``, ``Content-Md5``, ``Host`` and every ``X-*`` header, lowercased and sorted;
  a ``:80`` or ``:443`` port is dropped from the signed host value.
- Canonical request: method, URI, canonical query, ``name:value\\n`` per signed header, the signed header
  list, and the body hash, joined by newlines (so a blank line precedes the signed header list).
- Canonical query: keys sorted, keys and values percent-encoded per RFC 3986 (only ``A-Za-z0-9-_.~`` stay
  as they are; a space is ``%20``), a repeated key keeps its values in the order given.
- String to sign: ``HMAC-SHA256``, the X-Date, ``<short date>/<region>/<service>/request`` and the hex
  SHA-256 of the canonical request, joined by newlines.
- Signing key: HMAC chain from the secret key's raw UTF-8 bytes over the short date, region, service and
  ``request``.

One deliberate difference: the SDK picks the headers to sign by their exact spelling (``Host`` is signed,
``host`` is not); this module compares names case-insensitively, since HTTP header names are. For the
canonical spellings both give the same result.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx

ALGORITHM = "HMAC-SHA256"
REGION = "cn-north-1"
SERVICE = "cv"
_ALWAYS_SIGNED = frozenset({"content-type", "content-md5", "host"})
_RFC3986_SAFE = "-_.~"


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key_id: str,
    secret_access_key: str,
    *,
    now: datetime,
    region: str = REGION,
    service: str = SERVICE,
) -> dict[str, str]:
    """The headers to send: ``headers`` plus ``Host`` (if absent), ``X-Date``, ``X-Content-Sha256`` and
    ``Authorization``. ``url`` carries the query (``Action``, ``Version``) exactly as it will be sent."""
    parts = urlsplit(url)
    x_date = format_x_date(now)
    short_date = x_date[:8]
    signed = dict(headers)
    if not any(name.lower() == "host" for name in signed):
        signed["Host"] = parts.netloc.rpartition("@")[2]
    signed["X-Date"] = x_date
    signed["X-Content-Sha256"] = hashlib.sha256(body).hexdigest()

    canonical, signed_names = canonical_request(method, parts.path, parts.query, signed, signed["X-Content-Sha256"])
    scope = f"{short_date}/{region}/{service}/request"
    to_sign = "\n".join([ALGORITHM, x_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(
        signing_key(secret_access_key, short_date, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    signed["Authorization"] = (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={signed_names}, Signature={signature}"
    )
    return signed


def format_x_date(now: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC; a naive datetime is taken to be UTC already."""
    moment = now.astimezone(UTC) if now.tzinfo is not None else now
    return moment.strftime("%Y%m%dT%H%M%SZ")


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], body_sha256: str
) -> tuple[str, str]:
    """The canonical request and the ``;``-joined signed header names, from a raw (encoded) path and query."""
    selected: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _ALWAYS_SIGNED or lowered.startswith("x-"):
            selected[lowered] = value
    if "host" in selected:
        selected["host"] = _host_without_default_port(selected["host"])
    names = sorted(selected)
    canonical_headers = "".join(f"{name}:{selected[name]}\n" for name in names)
    signed_names = ";".join(names)
    uri = quote(unquote(path) or "/", safe="/")
    lines = [method.upper(), uri, canonical_query(query), canonical_headers, signed_names, body_sha256]
    return "\n".join(lines), signed_names


def canonical_query(query: str) -> str:
    """Keys sorted, RFC 3986 encoding; ``query`` is the URL's raw query string (``+`` decodes to a space)."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    return "&".join(
        f"{quote(key, safe=_RFC3986_SAFE)}={quote(value, safe=_RFC3986_SAFE)}"
        for key in sorted(values)
        for value in values[key]
    )


def signing_key(secret_access_key: str, short_date: str, region: str = REGION, service: str = SERVICE) -> bytes:
    key = secret_access_key.encode()
    for part in (short_date, region, service, "request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _host_without_default_port(host: str) -> str:
    name, separator, port = host.partition(":")
    if separator and ":" not in port and port in ("80", "443"):
        return name
    return host


class SignerV4Auth(httpx.Auth):
    """Signs each request as it is sent, over the exact body bytes, with keys read (cached) from the provider secret."""

    requires_request_body = True

    def __init__(self, read_keys: Callable[[], tuple[str, str]]) -> None:
        self.read_keys = read_keys

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        access_key_id, secret_access_key = self.read_keys()
        content_type = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        signed = sign_request(
            request.method,
            str(request.url),
            content_type,
            request.content,
            access_key_id,
            secret_access_key,
            now=datetime.now(UTC),
        )
        request.headers.update(signed)
        yield request
