"""The webhook endpoint's core: which attempt a callback is for, whether it is genuine, and what it changes.

A callback URL is ``<WebhookUrl>callbacks/<account>/<job_id>/<attempt>/<path token>``. Anything that does not name
a route we made, with its token, is answered 404 and changes nothing; a callback the provider's own check refuses
(signature, age, a task that is not the attempt's) is answered 401. A genuine callback saying the task ended
records that once and resumes the wait; one saying it still runs changes nothing. Answers are 2xx as soon as that
is done, so the provider does not retry; a provider that cannot be reached to verify gets 503 and retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from .callbacks import PATH_PREFIX, CallbackOutcome, CallbackRecord, CallbackStore
from .errors import PipelineError
from .provider_accounts import account_of
from .providers.base import CallbackDelivery, ProviderAdapter
from .providers.callback_signatures import ForgedCallback
from .request_rules import JOB_ID_PATTERN


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    """Lower-cased names."""
    body: bytes


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    message: str


@dataclass(frozen=True)
class Route:
    account: str
    job_id: str
    attempt: int
    path_token: str


@dataclass(frozen=True)
class WebhookContext:
    store: CallbackStore
    adapter: Callable[[str], ProviderAdapter]
    """The adapter of a provider id."""
    external_id: Callable[[str, int], str]
    """The external id of a job attempt's task."""
    resume: Callable[[CallbackRecord], bool]


NOT_FOUND = WebhookAnswer(404, "no such callback route")


def parse_route(path: str) -> Route | None:
    parts = path.strip("/").split("/")
    if len(parts) != 5 or parts[0] != PATH_PREFIX or not parts[3].isdigit():
        return None
    job_id = unquote(parts[2])
    if not JOB_ID_PATTERN.fullmatch(job_id) or not parts[4]:
        return None
    return Route(parts[1], job_id, int(parts[3]), parts[4])


def handle(request: WebhookRequest, context: WebhookContext, now: datetime) -> WebhookAnswer:
    if request.method != "POST":
        return WebhookAnswer(405, "callbacks are POSTed")
    route = parse_route(request.path)
    if route is None:
        return NOT_FOUND
    record = context.store.load(route.job_id, route.attempt)
    if record is None or not record.matches(route.path_token) or account_of(record.provider) != route.account:
        return NOT_FOUND
    delivery = CallbackDelivery(request.headers, request.body, context.external_id(route.job_id, route.attempt))
    try:
        report = context.adapter(record.provider).read_callback(delivery, now=now)
    except ForgedCallback as forged:
        return WebhookAnswer(401, f"callback not verified: {forged}")
    except PipelineError as error:
        return WebhookAnswer(503, f"the callback could not be verified now ({type(error).__name__}); send it again")
    if report.status == "running":
        return WebhookAnswer(200, "noted: the task is still running")
    outcome = CallbackOutcome(
        task_id=report.task_id,
        status="succeeded" if report.status == "succeeded" else "failed",
        cause=report.cause,
        reported_units=report.reported_units,
        received_at=now,
        provider_completed_at=report.completed_at,
    )
    settled = context.store.settle(route.job_id, route.attempt, outcome)
    resumed = context.resume(settled)
    return WebhookAnswer(200, "resumed" if resumed else "recorded")
