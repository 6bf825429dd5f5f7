"""Callbacks: task status changes POSTed to the URL a create named, the way the providers deliver them.

A provider queues an ``Event`` per status change it reports (WaveSpeed: the end; Kling: every change). Events are
delivered on a background thread per task, in order, so neither a provider route nor a task thread ever waits on a
receiver. One delivery:

- is a POST of the event's JSON body (``Content-Type: application/json``) with the provider's signature headers
  (webhook_signing.py); its ``webhook-id`` is new per event and kept by its retries and copies, its
  ``webhook-timestamp`` is the time of sending;
- is retried up to ``MAX_RETRIES`` times, on an answer other than 2xx or no answer, after
  ``callback_retry_base_seconds`` doubling each retry (0.5 s, 1 s, 2 s by default); no redirect is followed;
- goes only to loopback URLs (the providers refuse any other at create, see ``media.loopback_url``).

Faults (``POST /_simulator/faults`` with ``operation: callback``) are taken when a task's final event (WaveSpeed
``completed``/``failed``, Kling ``succeed``/``failed``) is about to be delivered, by the next such event of that
provider; earlier Kling events are never affected:

- ``lost``: never sent;
- ``duplicated``: delivered twice, with the same ``webhook-id`` and body;
- ``delayed``: delivered ``seconds`` late;
- ``bad_signature``: signed with a key nobody knows (for Kling, only when its credentials hold a ``webhook_secret``);
- ``replayed``: delivered normally, then sent once more with the same ``webhook-id`` and body, as a replay of
  a captured message: its timestamp ``REPLAY_AGE_SECONDS`` in the past, and correctly signed with it.

``GET /_simulator/stats`` lists each POST (and each ``lost`` event) in ``callbacks``: ``provider``, ``task_id``,
``status`` (the provider status sent), ``webhook_id``, ``attempt`` (1 for the first POST of a delivery, 0 for a
lost event), ``sent_at``, ``answered`` (the receiver's HTTP status, or null), ``fault`` (the fault that made this
POST differ from a normal delivery: on the late, forged, second or replayed POST only) and ``task_finished_at``.
The URL is left out: it may carry a token. ``callback_counts`` counts them (see stats.py).
"""

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from .faults import CALLBACK, CALLBACK_FAULTS, Fault, FaultRegistry
from .settings import SimulatorSettings
from .stats import Stats
from .webhook_signing import WebhookSigner

logger = logging.getLogger(__name__)

MAX_RETRIES = 3
REPLAY_AGE_SECONDS = 600


@dataclass(frozen=True)
class Event:
    provider: str
    task_id: str
    url: str
    status: str
    """The task status as the provider names it."""
    body: Mapping[str, Any]
    final: bool
    task_finished_at: datetime | None
    webhook_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class _Post:
    """One delivery of an event: how it is signed, and the fault that changed it, if any."""

    event: Event
    content: bytes
    signer: WebhookSigner
    fault: str | None = None


class Callbacks:
    def __init__(
        self,
        settings: SimulatorSettings,
        stats: Stats,
        faults: FaultRegistry,
        signers: Mapping[str, WebhookSigner],
    ) -> None:
        self._settings = settings
        self._stats = stats
        self._faults = faults
        self._signers = dict(signers)
        self._lock = threading.Lock()
        self._pending: dict[str, deque[Event]] = {}
        self._stopping = threading.Event()
        # trust_env=False: receivers are on loopback, which an environment proxy must not intercept.
        self._client = httpx.Client(trust_env=False, follow_redirects=False)

    def send(self, event: Event) -> None:
        """Queue ``event`` after the task's earlier ones; returns at once."""
        with self._lock:
            pending = self._pending.get(event.task_id)
            if pending is not None:
                pending.append(event)
                return
            self._pending[event.task_id] = deque([event])
        worker = threading.Thread(
            target=self._drain, args=(event.task_id,), name=f"simulator-callback-{event.task_id[:8]}", daemon=True
        )
        worker.start()

    def stop(self) -> None:
        """Abandon pending deliveries and waits (retries, delays)."""
        self._stopping.set()
        self._client.close()

    def _drain(self, task_id: str) -> None:
        while not self._stopping.is_set():
            with self._lock:
                pending = self._pending[task_id]
                if not pending:
                    del self._pending[task_id]
                    return
                event = pending.popleft()
            try:
                self._deliver(event)
            except Exception:  # a bug must not stop the task's later callbacks
                if not self._stopping.is_set():
                    logger.exception("callback of simulator task %s failed", task_id)

    def _deliver(self, event: Event) -> None:
        fault = self._faults.take(event.provider, CALLBACK, CALLBACK_FAULTS) if event.final else None
        post = _Post(event, json.dumps(event.body).encode(), self._signers[event.provider])
        if fault is None:
            self._post_with_retries(post)
        elif fault.kind == "lost":
            self._stats.record_callback(_entry(event, 0, None, None, fault.kind), "lost")
        else:
            self._deliver_with(post, fault)

    def _deliver_with(self, post: _Post, fault: Fault) -> None:
        kind = fault.kind
        if kind == "delayed":
            if self._stopping.wait(fault.seconds):
                return
            post = _Post(post.event, post.content, post.signer, kind)
        elif kind == "bad_signature":
            post = _Post(post.event, post.content, post.signer.forged(), kind)
        self._post_with_retries(post)
        if kind == "duplicated":
            self._post_with_retries(_Post(post.event, post.content, post.signer, kind))
        elif kind == "replayed":
            self._post(_Post(post.event, post.content, post.signer, kind), 1, int(time.time()) - REPLAY_AGE_SECONDS)

    def _post_with_retries(self, post: _Post) -> None:
        for attempt in range(1, MAX_RETRIES + 2):
            if self._post(post, attempt, int(time.time())):
                return
            wait = self._settings.callback_retry_base_seconds * 2 ** (attempt - 1)
            if attempt > MAX_RETRIES or self._stopping.wait(wait):
                break
        self._stats.count_callbacks("given_up")

    def _post(self, post: _Post, attempt: int, timestamp: int) -> bool:
        """One POST; whether the receiver answered 2xx."""
        event = post.event
        headers = {"Content-Type": "application/json", **post.signer.headers(event.webhook_id, timestamp, post.content)}
        sent_at = datetime.now(UTC)
        try:
            response = self._client.post(
                event.url, content=post.content, headers=headers, timeout=self._settings.callback_timeout_seconds
            )
            answered: int | None = response.status_code
        except httpx.HTTPError as exc:
            logger.debug("callback of simulator task %s not answered: %s", event.task_id, exc)
            answered = None
        ok = answered is not None and 200 <= answered < 300
        entry = _entry(event, attempt, sent_at, answered, post.fault)
        self._stats.record_callback(entry, "attempts", "answered_2xx" if ok else "failed_attempts")
        return ok


def _entry(
    event: Event, attempt: int, sent_at: datetime | None, answered: int | None, fault: str | None
) -> dict[str, object]:
    finished = event.task_finished_at
    return {
        "provider": event.provider,
        "task_id": event.task_id,
        "status": event.status,
        "webhook_id": event.webhook_id,
        "attempt": attempt,
        "sent_at": None if sent_at is None else sent_at.isoformat(),
        "answered": answered,
        "fault": fault,
        "task_finished_at": None if finished is None else finished.isoformat(),
    }
