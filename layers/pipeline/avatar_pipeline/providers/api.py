"""One provider request, whoever the provider: send it signed, read the answer once, and turn a refusal into the
contract error its code or HTTP status means (``classify``).

A provider module supplies a ``Dialect``: how to read its envelope (``Accepted`` data, or a ``Refusal`` built with
``classify`` over its code tables), and an ``httpx.Auth`` (see ``auth``) that signs each request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from ..errors import PipelineError, ProviderRejected, ProviderUnavailable
from .base import ExternalIdTaken
from .classify import SubmitOutcomeUnknown, TaskMissing
from .http import transport_errors

# Answers to a create that do not say whether the task was created: a gateway that lost the upstream's answer
# (502, 504), a timeout or conflict reported while the request may be processed (408, 409).
AMBIGUOUS_CREATE_STATUSES = frozenset({408, 409, 502, 504})
MAX_CAUSE_PART_CHARS = 300

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Answer:
    """A provider's answer, read once: HTTP status, reason, and the body if it is a JSON object."""

    status: int
    reason: str
    text: str
    body: dict[str, Any] | None

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        try:
            body = response.json()
        except ValueError:
            body = None
        return cls(
            response.status_code, response.reason_phrase, response.text, body if isinstance(body, dict) else None
        )

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def field(self, name: str) -> str:
        """A top-level field of the JSON body as text; empty when the body has none."""
        value = self.body.get(name) if self.body else None
        return str(value) if value else ""


@dataclass(frozen=True)
class Accepted:
    data: Any


@dataclass(frozen=True)
class Refusal:
    """An error answer: the error class ``classify`` chose, the cause, and the provider's code if it gave one."""

    error: type[Exception]
    detail: str
    code: int | str | None = None
    # The answer refused the credentials: the cause says where to fix them.
    credentials: bool = False


class Dialect(Protocol):
    name: str
    credentials_hint: str

    def read(self, answer: Answer, what: str) -> Accepted | Refusal: ...


class ProviderApi:
    """One provider's API at ``base_url``, called through the (shared) ``client`` and signed by ``auth``."""

    def __init__(self, dialect: Dialect, base_url: str, client: httpx.Client, auth: httpx.Auth) -> None:
        self.dialect = dialect
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.auth = auth

    def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        creates_task: bool = False,
        about_task: bool = False,
        taken_code: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """The accepted answer's data; otherwise raises the contract error the answer means.

        ``creates_task``: a paid create, whose unanswered or ambiguous outcome is ``SubmitOutcomeUnknown``.
        ``about_task``: the request names an existing task, so "not found" is ``TaskMissing``, not a refusal.
        ``taken_code``: the code refusing a create because its external id exists (``ExternalIdTaken``).
        """
        name = self.dialect.name
        with transport_errors(name, what, creates_task=creates_task):
            response = self.client.request(method, self.base_url + path, auth=self.auth, **kwargs)
        answer = Answer.of(response)
        if creates_task and _leaves_create_unknown(answer):
            status = answer.status
            raise SubmitOutcomeUnknown(f"{name} answered the {what} with HTTP {status}; it may have created the task")
        reading = self.dialect.read(answer, what)
        if isinstance(reading, Accepted):
            return reading.data
        raise self._error(reading, about_task=about_task, taken_code=taken_code)

    def _error(self, refusal: Refusal, *, about_task: bool, taken_code: int | None) -> Exception:
        detail = refusal.detail
        if refusal.credentials and refusal.error is ProviderRejected:
            detail = f"{detail}; {self.dialect.credentials_hint}"
        if refusal.error is TaskMissing:
            return TaskMissing(detail) if about_task else ProviderRejected(detail)
        error = refusal.error(detail)
        if taken_code is not None and refusal.code == taken_code and isinstance(error, PipelineError):
            return ExternalIdTaken(error)
        return error


def _leaves_create_unknown(answer: Answer) -> bool:
    """A provider that answered a create in its own words did not create the task (it said why); a gateway page
    or an empty body in front of a 5xx, or a status in ``AMBIGUOUS_CREATE_STATUSES``, says nothing."""
    status = answer.status
    if answer.is_success or status == 503:
        return False
    return status in AMBIGUOUS_CREATE_STATUSES or (status >= 500 and answer.body is None)


def validated(model: type[Model], data: Any, unreadable: str) -> Model:
    """A provider's answer as ``model``; ``ProviderUnavailable`` (``unreadable: <why>``) when it does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        raise ProviderUnavailable(f"{unreadable}: {clip(str(invalid))}") from invalid


def clip(text: str) -> str:
    return text if len(text) <= MAX_CAUSE_PART_CHARS else text[: MAX_CAUSE_PART_CHARS - 3] + "..."
