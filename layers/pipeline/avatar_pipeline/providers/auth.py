"""How provider requests are signed: ``httpx.Auth`` flows that may send a request once more with renewed credentials."""

from __future__ import annotations

import abc
from collections.abc import Callable, Generator

import httpx


class RenewingAuth(httpx.Auth, abc.ABC):
    """Signs each request; an answer that refuses the credentials is sent once more, signed with renewed ones."""

    requires_request_body = True
    requires_response_body = True

    @abc.abstractmethod
    def sign(self, request: httpx.Request) -> None: ...

    def refused(self, response: httpx.Response) -> bool:
        return False

    def renew(self) -> None:
        """Forget what was cached for signing (a token), so the next ``sign`` makes it afresh."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        response = yield request
        if self.refused(response):
            self.renew()
            self.sign(request)
            yield request


class BearerKey(RenewingAuth):
    """``Authorization: Bearer <api_key>`` from the provider secret, read (cached) at each request."""

    def __init__(self, read_key: Callable[[], str]) -> None:
        self.read_key = read_key

    def sign(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.read_key()}"
