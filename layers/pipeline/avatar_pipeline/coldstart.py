"""A Lambda cold start without the cyclic garbage collector's work on the import.

Importing a handler makes 85,000 to 95,000 objects (modules, classes, functions, pydantic schemas) that live as long
as the execution environment. While they are made, the collector walks them 35 to 43 times and finds about 400
objects of garbage: 5 to 8 % of the import's CPU time (``make bench`` measures it). So, in a Lambda runtime only,
the package's first import pauses the collector, and the handler's first invocation (``ends_cold_start``) freezes
what the import made out of its reach (``gc.freeze``: no later collection walks it again) and resumes it. Reference
counting frees everything else as usual meanwhile; only the import's few hundred cyclic leftovers stay, once.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])

_paused = False


def pause_collector() -> None:
    """In a Lambda runtime (``AWS_EXECUTION_ENV``, set by Lambda and by the local stack's workers), before the
    handler's imports: tests and tools that import the package keep the collector as it is."""
    global _paused
    if os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_") and gc.isenabled():
        gc.disable()
        _paused = True


def resume_collector() -> None:
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def ends_cold_start(handler: Handler) -> Handler:
    """The outermost decorator of every handler: its first call ends the import's pause of the collector."""

    @wraps(handler)
    def invoked(*args: Any, **kwargs: Any) -> Any:
        resume_collector()
        return handler(*args, **kwargs)

    return invoked  # type: ignore[return-value]
