"""DynamoDB requests one at a time, as atomic as DynamoDB makes each of them.

moto's server answers requests on many threads, and its DynamoDB backend has no lock: a transaction backs the
table up with a deep copy that fails ("dictionary changed size during iteration") while another request writes,
and a transaction whose condition fails puts that copy back, undoing every write made meanwhile. A thousand jobs
taking and giving back provider slots at once hit both: a released slot came back to a job that had ended, and a
granted waiter vanished without its slot. On AWS each request, and each transaction as a whole, is atomic; here
every DynamoDB request is handled under one lock, which costs nothing measurable (the backend is in memory and the
interpreter holds the GIL anyway).

Patches moto 5.2.x (checked with 5.2.5), which lacks this: moto's DynamoDB handler and transactions take no lock.
``tests/integration/test_moto_upstream.py`` (test_dynamodb_atomicity_requests_are_handled_without_a_lock) fails once
an upgrade brings it; then this module goes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.responses import DynamoHandler

from .patching import replace


def install_serialized_dynamodb() -> Callable[[], None]:
    original = DynamoHandler.call_action
    lock = threading.RLock()

    def call_action(handler: DynamoHandler, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(handler, *args, **kwargs)

    return replace((DynamoHandler, "call_action", call_action))
