"""Fires scheduled EventBridge rules, which moto stores but never triggers.

Every rule that is not DISABLED and has a ``rate(N minute|minutes|hour|hours|day|days)`` schedule, on any bus of
the stack's account and region, created by the template or later through the API, sends a ``Scheduled Event``
(source ``aws.events``, the rule's ARN as its resource, detail ``{}``) to its targets once a period, the first one
period after the scheduler first sees the rule (or its new expression, or its re-enabling). ``cron(...)``
schedules are not fired locally: each such rule is logged once. ``scale`` divides every period, so a test can see
``rate(1 minute)`` fire within a second.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator

from moto.events.models import Rule, events_backends
from moto.events.utils import EventMessageType

from .eventbridge import SCHEDULED_EVENT

log = logging.getLogger(__name__)

SCALE_VARIABLE = "AVATAR_LOCAL_SCHEDULE_SCALE"
RESCAN_SECONDS = 1.0
_RATE = re.compile(r"rate\(([1-9]\d*) (minute|hour|day)s?\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """The period of a ``rate(...)`` expression; None for anything else (``cron(...)``)."""
    match = _RATE.fullmatch(expression.strip())
    return int(match[1]) * _UNIT_SECONDS[match[2]] if match else None


def scale_from_environment() -> float:
    """``AVATAR_LOCAL_SCHEDULE_SCALE``, 1 when unset."""
    return float(os.environ.get(SCALE_VARIABLE) or 1)


class RuleScheduler:
    def __init__(self, account_id: str, region: str, *, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"the schedule scale divides every period: it must be positive, not {scale}")
        self.account_id = account_id
        self.region = region
        self.scale = scale
        self._due: dict[str, tuple[str, float]] = {}  # rule ARN -> (expression, monotonic time it fires next)
        self._unfired: set[str] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eventbridge-schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._stopping.wait(self._fire_due_rules())

    def _scheduled_rules(self) -> Iterator[Rule]:
        for bus in list(events_backends[self.account_id][self.region].event_buses.values()):
            for rule in list(bus.rules.values()):
                if rule.scheduled_expression and rule.state != "DISABLED":
                    yield rule

    def _fire_due_rules(self) -> float:
        """Fires every rule that is due; returns the seconds until one is due or the rules are looked at again."""
        now = time.monotonic()
        next_look = now + RESCAN_SECONDS
        due: dict[str, tuple[str, float]] = {}
        for rule in self._scheduled_rules():
            expression = str(rule.scheduled_expression)
            seconds = rate_seconds(expression)
            if seconds is None:
                if rule.arn not in self._unfired:
                    self._unfired.add(rule.arn)
                    log.warning("rule %s: %s schedules do not fire locally", rule.name, expression)
                continue
            period = seconds / self.scale
            seen_expression, fires_at = self._due.get(rule.arn, (None, 0.0))
            if seen_expression != expression:
                fires_at = now + period
            elif fires_at <= now:
                _fire(rule)
                fires_at = fires_at + period if fires_at + period > now else now + period
            due[rule.arn] = (expression, fires_at)
            next_look = min(next_look, fires_at)
        self._due = due
        return max(0.0, next_look - time.monotonic())


def _fire(rule: Rule) -> None:
    event: EventMessageType = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": SCHEDULED_EVENT,
        "source": "aws.events",
        "account": rule.account_id,
        "time": time.time(),  # moto's event messages carry epoch seconds; delivery formats them
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }
    try:
        rule.send_to_targets(event)
    except Exception:
        log.exception("scheduled rule %s could not deliver", rule.name)
