"""Expiring, HMAC-signed result URLs."""

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode

from .settings import SimulatorSettings


class UrlSigner:
    """Signs result URLs with a key that lives as long as the server."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self._settings = settings
        self._key = secrets.token_bytes(32)

    def url(self, base_url: str, task_id: str, *, expired: bool = False) -> str:
        """A fresh URL for a task's video; ``expired`` makes one that is already past its expiry."""
        now = time.time()
        expires = int(now - 1 if expired else now + self._settings.result_url_ttl_seconds)
        query = urlencode({"expires": expires, "signature": self._signature(task_id, expires)})
        return f"{base_url}/_simulator/files/{task_id}.mp4?{query}"

    def verify(self, task_id: str, expires: str, signature: str) -> bool:
        return expires.isdigit() and hmac.compare_digest(
            signature.encode(), self._signature(task_id, int(expires)).encode()
        )

    def _signature(self, task_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{task_id}:{expires}".encode(), hashlib.sha256).hexdigest()
