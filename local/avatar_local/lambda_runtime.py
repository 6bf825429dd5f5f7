"""Answers the local AWS's Lambda invocations with the project's real handlers.

Each function gets a pool of warm worker processes (``lambda_pool``). Each invocation runs under the function's
current ``Timeout`` (so UpdateFunctionConfiguration applies to the next one, as on AWS).

Crashes can be injected through the public Lambda API: tag a function with ``avatar-local:crash`` =
``before`` (the runtime dies before the handler runs), ``after`` (the handler finishes, the runtime dies
before answering) or ``during:<seconds>``; the next invocation crashes that way and the tag is removed.
``<how> x<n>`` (e.g. ``before x4``) crashes the next ``n`` invocations. The invocation fails with
``Runtime.ExitError``, as a crashed Lambda runtime does. ``refused`` makes the Lambda service itself refuse the
invocation (HTTP 500 ``ServiceException``, which Step Functions calls ``Lambda.ServiceException``), as it does when
the runtime cannot start a worker.

Patches moto 5.2.x (checked with 5.2.5), which lacks this: without Docker, every invocation is answered with its own
payload. ``tests/integration/test_moto_upstream.py`` (test_lambda_runtime_moto_without_docker_echoes_the_payload)
fails once an upgrade brings it; then this module goes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

from .lambda_pool import FunctionPool, InvocationError, LocalFunction
from .patching import replace

__all__ = ["CRASH_TAG", "LambdaServiceException", "LocalFunction", "LocalLambdaRuntime", "runtime_environment"]

log = logging.getLogger(__name__)

CRASH_TAG = "avatar-local:crash"


class LambdaServiceException(JsonRESTError):
    code = 500

    def __init__(self, message: str) -> None:
        super().__init__("ServiceException", message)


class LocalLambdaRuntime:
    def __init__(self, functions: list[LocalFunction], runtime_env: dict[str, str], log_path: Path) -> None:
        self.log = log_path.open("a", encoding="utf-8")
        self.pools = {function.name: FunctionPool(function, runtime_env, self.log) for function in functions}
        self._original_invoke = LambdaSimpleBackend.invoke
        self._uninstall: Callable[[], None] = lambda: None
        self._crash_lock = threading.Lock()

    def _take_crash(self, backend: LambdaSimpleBackend, name: str) -> str | None:
        """The crash injected for this function's next invocation, used up as it is taken."""
        with self._crash_lock:
            arn = backend.get_function(name).function_arn
            crash = backend.list_tags(arn).get(CRASH_TAG)
            if crash is None:
                return None
            how, _, times = crash.partition(" x")
            left = int(times) - 1 if times.isdigit() else 0
            if left > 0:
                backend.tag_resource(arn, {CRASH_TAG: f"{how} x{left}"})
            else:
                backend.untag_resource(arn, [CRASH_TAG])
            return how

    def install(self) -> None:
        runtime = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes | str | None:
            name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
            pool = runtime.pools.get(name)
            if pool is None:
                return runtime._original_invoke(backend, function_name, qualifier, body, headers, response_headers)
            event = json.loads(body) if body else {}
            timeout_seconds = int(backend.get_function(name).timeout)
            crash = runtime._take_crash(backend, name)
            if crash == "refused":
                raise LambdaServiceException(f"{name}: injected refusal")
            if headers.get("X-Amz-Invocation-Type") == "Event":
                threading.Thread(
                    target=runtime._invoke_quietly, args=(pool, event, timeout_seconds, crash), daemon=True
                ).start()
                return b""
            try:
                result = pool.invoke(event, timeout_seconds, crash)
            except InvocationError as error:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(error.payload).encode()
            except Exception as error:
                # The runtime itself failed (no worker could start): Lambda answers that with a 500 ServiceException.
                log.exception("the local Lambda runtime could not run %s", name)
                raise LambdaServiceException(f"{name}: {error}") from error
            return json.dumps(result).encode()

        self._uninstall = replace((LambdaSimpleBackend, "invoke", invoke))

    @staticmethod
    def _invoke_quietly(pool: FunctionPool, event: Any, timeout_seconds: int, crash: str | None) -> None:
        try:
            pool.invoke(event, timeout_seconds, crash)
        except InvocationError:
            pass
        except Exception:
            log.exception("the local Lambda runtime could not run %s (an asynchronous invoke)", pool.function.name)

    def warm(self) -> None:
        threads = [threading.Thread(target=pool.warm) for pool in self.pools.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def shutdown(self) -> None:
        self._uninstall()
        for pool in self.pools.values():
            pool.shutdown()
        self.log.close()


def runtime_environment(endpoint_url: str, region: str, access_key: str, secret_key: str) -> dict[str, str]:
    """What the Lambda runtime provides to every function, pointed at the local AWS."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_SAM_LOCAL": "true",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    }
