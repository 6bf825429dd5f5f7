"""Hands free slots to the oldest waiting jobs and wakes them (``SendTaskSuccess`` on their task token).

Run after every release (invoked asynchronously by whoever freed a slot) and on a schedule (the backstop for a
wake-up that was lost). Also frees the slots whose lease ran out, and wakes again a holder whose wake-up did not
land (the dispatcher died between granting and waking). Safe to run many times at once: every grant is conditional.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from .admission import AdmissionStore, Waiter

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# A holder still carrying its token this long after its grant was never woken.
WAKE_AGAIN_AFTER = timedelta(seconds=20)
# Tokens of executions that are gone: the slot goes back.
GONE = frozenset({"TaskDoesNotExist", "InvalidToken", "TaskTimedOut"})
MAX_ROUNDS = 20


@dataclass(frozen=True)
class AccountState:
    """An account's slots as a dispatch left them, and since when its oldest waiter waits (None: nobody waits)."""

    account: str
    in_use: int
    limit: int
    oldest_queued_since: str | None


@dataclass
class Dispatched:
    woken: int = 0
    expired: int = 0
    gone: int = 0
    accounts: list[str] = field(default_factory=list)
    states: list[AccountState] = field(default_factory=list)


def dispatch(store: AdmissionStore, sfn: SFNClient, accounts: list[str], now: datetime) -> Dispatched:
    done = Dispatched(accounts=accounts)
    for account in accounts:
        if store.limit(account) == 0:
            continue
        holders = store.slots(account).get("holders") or {}
        for key, holder in holders.items():
            if str(holder.get("lease_until", "")) < now.isoformat():
                done.expired += int(store.release(account, key))
            elif holder.get("token") and str(holder.get("granted_at", "")) < (now - WAKE_AGAIN_AFTER).isoformat():
                _wake(store, sfn, account, key, str(holder["token"]), done)
        for _round in range(MAX_ROUNDS):
            free = store.limit(account) - int(store.slots(account).get("in_use", 0))
            waiters = store.oldest_waiters(account, free) if free > 0 else []
            if not waiters:
                break
            for waiter in waiters:
                if store.grant(waiter, now):
                    _wake(store, sfn, account, waiter.key, waiter.token, done)
        done.states.append(account_state(store, account))
    return done


def account_state(store: AdmissionStore, account: str) -> AccountState:
    oldest = store.oldest_waiters(account, 1)
    return AccountState(
        account=account,
        in_use=int(store.slots(account).get("in_use", 0)),
        limit=store.limit(account),
        oldest_queued_since=queued_since(oldest[0]) if oldest else None,
    )


def queued_since(waiter: Waiter) -> str:
    """A waiter's sort key is ``wait#<queued_since>#<slot key>``: the ISO time it joined the queue."""
    return waiter.sort_key.split("#", 2)[1]


def _wake(store: AdmissionStore, sfn: SFNClient, account: str, key: str, token: str, done: Dispatched) -> None:
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps({"admitted": True}))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in GONE:
            raise
        done.gone += 1
        store.release(account, key)
        return
    done.woken += 1
    store.woken(account, key)
