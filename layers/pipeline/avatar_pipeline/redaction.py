"""One redaction for every provider: secret values the process knows, and text that is secret whatever its value.

``redact`` is applied where error causes are built (``PipelineError``) and to every log record
(``observability``), so a provider answer that echoes the request cannot carry a key, a signature or a presigned
URL into an execution's output or history, the jobs table, an outcome event or the logs.

Values are registered process-wide: every string of the provider secret each time it is read (so a rotated key is
covered as soon as it is used), and derived values callers hand over (a signed JWT, say). Values shorter than
``MIN_SECRET_CHARS`` are not registered: they would redact ordinary words, and no real credential is that short
(the patterns below still catch them in an Authorization header or a ``"api_key": "..."`` pair).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote

MARKER = "[redacted]"
MIN_SECRET_CHARS = 8

# Field names whose value is a credential, in ``"name": "value"``, ``name=value`` or header form.
CREDENTIAL_FIELDS = (
    "access_key_id",
    "secret_access_key",
    "access_key",
    "secret_key",
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "session_token",
    "security_token",
    "x-amz-security-token",
    "client_secret",
    "password",
)
# Query parameters that make a URL a signed (presigned) one: S3/GCS/TOS/OSS signing, CloudFront, generic tokens.
_SIGNED_PARAM = (
    r"(?:x-(?:amz|goog|tos|oss)-[\w-]*|signature|sig|credential|expires|policy|key-pair-id|"
    r"(?:access|security|session)?[-_]?token|(?:oss-?)?access[-_]?key(?:[-_]?id)?|api[-_]?key)"
)
_NOT_REDACTED = rf"(?!{re.escape(MARKER)})"

_URL = re.compile(r"https?://[^\s\"'<>\\]+")
_URL_TRAILER = re.compile(r"[.,;:)\]}]+$")
_SIGNED_QUERY = re.compile(rf"(?i)(?:^|[?&;]){_SIGNED_PARAM}(?:=|$)")


@dataclass(frozen=True)
class _Rule:
    # A rule runs only if the lower-cased text contains one of its triggers: most log lines contain none,
    # and a substring test is far cheaper than a case-insensitive regex scan.
    triggers: tuple[str, ...]
    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str]


def _redact_url(match: re.Match[str]) -> str:
    """Drop the query of a signed URL, keeping scheme, host and path (what a person needs to read the cause)."""
    url = match.group(0)
    trailer = _URL_TRAILER.search(url)
    end = trailer.start() if trailer else len(url)
    base, separator, query = url[:end].partition("?")
    if not separator or not _SIGNED_QUERY.search(unquote(query)):
        return url
    return f"{base}?{MARKER}{url[end:]}"


_RULES = (
    _Rule(("://",), _URL, _redact_url),
    # Volcengine SignerV4 and AWS SigV4 Authorization values: algorithm, then Credential, SignedHeaders, Signature.
    _Rule(
        ("hmac-sha256",),
        re.compile(
            r"(?i)\b((?:AWS4-)?HMAC-SHA256)\s+(?=Credential=)"
            r"Credential=[^\s,]*(?:,?\s*SignedHeaders=[^\s,]*)?(?:,?\s*Signature=[0-9a-f]*)?"
        ),
        rf"\1 {MARKER}",
    ),
    _Rule(("bearer",), re.compile(rf"(?i)\b(Bearer)\s+{_NOT_REDACTED}[\w\-.~+/]{{8,}}=*"), rf"\1 {MARKER}"),
    # Any other Authorization value (another scheme, or none): one scheme word and the credential after it.
    _Rule(
        ("authorization",),
        re.compile(
            r"(?i)(\b(?:proxy-)?authorization\\*[\"']?[ \t]*[:=][ \t]*\\*[\"']?)"
            rf"(?!(?:[\w-]+[ \t]+)?{re.escape(MARKER)})(?:[A-Za-z][\w-]*[ \t]+)?[^\s\"',;\\]+"
        ),
        rf"\1{MARKER}",
    ),
    _Rule(("eyj",), re.compile(r"\beyJ[\w-]{8,}\.[\w-]{4,}(?:\.[\w-]*)?"), MARKER),
    _Rule(("whsec_",), re.compile(r"\bwhsec_[\w+/=-]+"), MARKER),
    _Rule(
        ("key", "token", "secret", "password"),
        re.compile(
            rf"(?i)(?<![\w-])((?:{'|'.join(re.escape(field) for field in CREDENTIAL_FIELDS)}))"
            rf"(\\*[\"']?\s*[:=]\s*\\*[\"']?){_NOT_REDACTED}[^\"'\s,;&}}\]\\]+"
        ),
        rf"\1\2{MARKER}",
    ),
    # A signing parameter outside a URL (a query string quoted on its own, a header echoed as name=value).
    _Rule(
        ("x-amz-", "x-goog-", "x-tos-", "x-oss-", "sig", "credential=", "expires=", "policy=", "token=", "key=", "id="),
        re.compile(rf"(?i)(?<![\w-])({_SIGNED_PARAM}=){_NOT_REDACTED}[^&\s\"'\\<>,;]+"),
        rf"\1{MARKER}",
    ),
    # A request signature echoed on its own ("signature 4cd9..."): valid for replaying that request until it expires.
    _Rule(("signature",), re.compile(r"(?i)\b(signature\W{0,3})[0-9a-f]{40,}\b"), rf"\1{MARKER}"),
    # Access key ids by shape: AWS (AKIA/ASIA) and Volcengine (AKLT).
    _Rule(("akia", "asia", "aklt"), re.compile(r"\b(?:AKIA|ASIA|AKLT)[A-Za-z0-9+/=]{12,}"), MARKER),
)


class _Registry:
    """Registered values and the one pattern matching them; replaced whole, so readers never take the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def add(self, values: Iterable[str]) -> None:
        new = {variant for value in values if len(value.strip()) >= MIN_SECRET_CHARS for variant in _variants(value)}
        if new <= self._values:
            return
        with self._lock:
            values = self._values | new
            # Longest first, so a value containing another is replaced whole.
            alternatives = sorted(values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(value) for value in alternatives))
            self._values = values

    def clear(self) -> None:
        with self._lock:
            self._values, self._pattern = frozenset(), None

    def sub(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MARKER, text)


_REGISTRY = _Registry()


def register(*values: object) -> None:
    """Redact these values from now on (non-strings and values under ``MIN_SECRET_CHARS`` are ignored)."""
    _REGISTRY.add(value for value in values if isinstance(value, str))


def register_document(document: object) -> None:
    """Register every string value of a parsed JSON document, at any depth (keys are names, not secrets)."""
    _REGISTRY.add(_strings(document))


def forget_registered() -> None:
    """Drop every registered value (tests start from a clean registry)."""
    _REGISTRY.clear()


def redact(text: str) -> str:
    """``text`` with registered values and secret-shaped text replaced by ``MARKER``; idempotent."""
    if not text:
        return text
    text = _REGISTRY.sub(text)
    lowered = text.lower()
    for rule in _RULES:
        if any(trigger in lowered for trigger in rule.triggers):
            text = rule.pattern.sub(rule.replacement, text)
    return text


def _variants(value: str) -> set[str]:
    """The value as sent, and as it reads once echoed inside a URL or a JSON string."""
    return {value, quote(value, safe=""), json.dumps(value)[1:-1]}


def _strings(document: object) -> Iterator[str]:
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for value in document.values():
            yield from _strings(value)
    elif isinstance(document, list | tuple):
        for item in document:
            yield from _strings(item)
