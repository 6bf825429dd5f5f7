"""Kling's authorization: ``Bearer <api_key>``, or with the legacy access/secret key pair a short-lived HS256 JWT
(``iss`` = access key, ``exp`` = now + 30 min, ``nbf`` = now - 5 s) sent the same way, cached per process.

An answer refusing the authorization (HTTP 401 or codes 1000-1004) is sent once more with a freshly signed token.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from ..errors import ProviderRejected
from ..redaction import register
from .api import Answer
from .auth import RenewingAuth

JWT_LIFETIME_SECONDS = 1800
JWT_NOT_BEFORE_SKEW_SECONDS = 5
JWT_RENEW_MARGIN_SECONDS = 300

AUTH_CODES: Mapping[int, str] = {
    1000: "authentication failed",
    1001: "authorization is empty",
    1002: "authorization is invalid",
    1003: "authorization is not yet valid",
    1004: "authorization has expired",
}

Clock = Callable[[], float]


@dataclass(frozen=True)
class _Token:
    identity: str
    value: str
    expires_at: float


class JwtCache:
    """Signed JWTs per access key, shared by every adapter in the process and renewed shortly before expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}

    def token(self, access_key: str, secret_key: str, now: float) -> str:
        identity = _identity(access_key, secret_key)
        with self._lock:
            cached = self._tokens.get(access_key)
            if cached and cached.identity == identity and cached.expires_at - now > JWT_RENEW_MARGIN_SECONDS:
                return cached.value
            issued = int(now)
            expires_at = issued + JWT_LIFETIME_SECONDS
            claims = {"iss": access_key, "exp": expires_at, "nbf": issued - JWT_NOT_BEFORE_SKEW_SECONDS}
            # Only the legacy key pair signs: a deployment with an api_key, and every other provider's call or
            # callback, never needs PyJWT (about 8 ms of each provider function's cold start).
            import jwt

            value = jwt.encode(claims, secret_key, algorithm="HS256", headers={"alg": "HS256", "typ": "JWT"})
            self._tokens[access_key] = _Token(identity, value, expires_at)
            return value

    def drop(self, access_key: str) -> None:
        with self._lock:
            self._tokens.pop(access_key, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


PROCESS_TOKENS = JwtCache()
"""The per-process JWT cache (a warm Lambda reuses its token for up to 25 minutes)."""


class KlingAuth(RenewingAuth):
    def __init__(self, read_entry: Callable[[], Mapping[str, str]], tokens: JwtCache, clock: Clock) -> None:
        self.read_entry = read_entry
        self.tokens = tokens
        self.clock = clock
        self._access_key: str | None = None

    def sign(self, request: httpx.Request) -> None:
        entry = self.read_entry()
        api_key, access_key, secret_key = entry.get("api_key"), entry.get("access_key"), entry.get("secret_key")
        self._access_key = None
        if api_key:
            request.headers["Authorization"] = f"Bearer {api_key}"
        elif access_key and secret_key:
            token = self.tokens.token(access_key, secret_key, self.clock())
            register(token)
            self._access_key = access_key
            request.headers["Authorization"] = f"Bearer {token}"
        else:
            raise ProviderRejected("the provider secret's kling entry needs api_key, or access_key and secret_key")

    def refused(self, response: httpx.Response) -> bool:
        code = envelope_code(Answer.of(response).body)
        return code in AUTH_CODES if code is not None else response.status_code == 401

    def renew(self) -> None:
        if self._access_key is not None:
            self.tokens.drop(self._access_key)


def envelope_code(body: Mapping[str, object] | None) -> int | None:
    """The envelope's ``code``, if it is an integer."""
    code = body.get("code") if body else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _identity(access_key: str, secret_key: str) -> str:
    """Changes when either key is rotated, without keeping the secret itself around as a dict key."""
    return hashlib.sha256(f"{access_key}\0{secret_key}".encode()).hexdigest()
