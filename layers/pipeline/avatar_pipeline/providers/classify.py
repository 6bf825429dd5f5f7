"""The one mapping from a provider's error answer to a contract error: its documented code first, then HTTP status.

Each provider module holds a table ``{code: (error class, meaning)}`` of the codes its documentation lists; what a
table does not list is judged by the HTTP status with ``STATUSES``, unless the provider says how to read codes it
did not document (``unknown``: Volcengine, for example, reads the range a code falls in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..errors import ProviderRejected, ProviderThrottled, ProviderUnavailable


class TaskMissing(Exception):
    """The provider does not know the task asked about (HTTP 404 or its not-found code).

    Never a contract error: asked about an existing task it means the task is gone (``ProviderTaskFailed``, or no
    task to adopt); answered to any other request it means the API itself is missing (``ProviderRejected``).
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class SubmitOutcomeUnknown(Exception):
    """A request that creates a paid task may have reached the provider, but no answer says whether it did.

    Never a contract error: the submission core decides what it means (look the task up, or give up naming it).
    """

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


Meaning = tuple[type[Exception], str]
CodeTable = Mapping[int | str, Meaning]
UnknownCode = Callable[[int | str, int], Meaning]

STATUSES: Mapping[int, Meaning] = {
    401: (ProviderRejected, "credentials refused"),
    403: (ProviderRejected, "access refused"),
    404: (TaskMissing, "not found"),
    # A timeout or conflict reported while the request may still be processed: asking again may work.
    408: (ProviderUnavailable, "request timeout"),
    409: (ProviderUnavailable, "conflict"),
    429: (ProviderThrottled, "too many requests"),
}
# HTTP statuses that refuse the credentials themselves: the answer names where to fix them.
AUTH_STATUSES = frozenset({401, 403})


def by_status(status: int) -> Meaning:
    if status in STATUSES:
        return STATUSES[status]
    if status >= 500:
        return ProviderUnavailable, "server error"
    if status >= 400:
        return ProviderRejected, "request refused"
    return ProviderUnavailable, "an answer that is neither a result nor an error"


def classify(
    status: int, code: int | str | None = None, codes: CodeTable | None = None, unknown: UnknownCode | None = None
) -> Meaning:
    """The error class and meaning of an answer with HTTP ``status`` and the provider's own ``code`` (if any)."""
    if code is not None:
        if codes is not None and code in codes:
            return codes[code]
        if unknown is not None:
            return unknown(code, status)
    return by_status(status)
