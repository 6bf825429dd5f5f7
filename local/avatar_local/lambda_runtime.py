"""Answers the local AWS's Lambda invocations with the project's real handlers.

Each function gets a pool of warm worker processes, each started with exactly the environment the template
gives that function (plus what the Lambda runtime itself provides), so functions are isolated from each other
and invocations run concurrently. Each invocation runs under the function's current ``Timeout`` (so
UpdateFunctionConfiguration applies to the next one, as on AWS): its deadline goes to the worker with the request,
and a handler still running at the deadline is killed, failing the invocation with ``Sandbox.Timedout``.

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
import queue
import selectors
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

log = logging.getLogger(__name__)

MAX_WORKERS_PER_FUNCTION = 4
STARTUP_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class LocalFunction:
    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    memory_mb: int
    layer_dirs: tuple[Path, ...]


CRASH_TAG = "avatar-local:crash"


def _exit_error(how: str) -> dict[str, str]:
    return {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited with error: signal: killed ({how})"}


class InvocationError(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("errorMessage", "function error"))
        self.payload = payload


class _Worker:
    def __init__(self, function: LocalFunction, runtime_env: dict[str, str], log: IO[str]) -> None:
        env = {
            **runtime_env,
            **function.environment,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "LAMBDA_TASK_ROOT": str(function.code_dir),
            "_HANDLER": function.handler,
        }
        self.function = function
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "avatar_local.lambda_worker",
                str(function.code_dir),
                function.handler,
                *map(str, function.layer_dirs),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            text=True,
        )
        ready = self._read_line(STARTUP_TIMEOUT_SECONDS)
        if ready is None:
            self.kill()
            raise RuntimeError(f"worker for {function.name} did not start")

    def _read_line(self, timeout: float) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        # A selector, not select(): with a thousand executions running, the stack holds more than 1024 descriptors.
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        line = self.process.stdout.readline()
        return json.loads(line) if line else None

    def invoke(self, event: Any, timeout_seconds: int, crash: str | None = None) -> Any:
        assert self.process.stdin is not None
        if crash == "before":
            self.kill()
            raise InvocationError(_exit_error("injected before the handler ran"))
        deadline = time.time() + timeout_seconds
        request = {"event": event, "request_id": str(uuid.uuid4()), "deadline_ms": int(deadline * 1000)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        if crash is not None and crash.startswith("during:"):
            self._read_line(float(crash.partition(":")[2]))
            self.kill()
            raise InvocationError(_exit_error(f"injected {crash}"))
        response = self._read_line(max(0.0, deadline - time.time()))
        if crash == "after":
            self.kill()
            raise InvocationError(_exit_error("injected after the handler finished"))
        if response is None and not self.alive:
            raise InvocationError(_exit_error("the runtime process died"))
        if response is None:
            self.kill()
            raise InvocationError(
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {timeout_seconds:.2f} seconds",
                }
            )
        if "error" in response:
            raise InvocationError(response["error"])
        return response.get("result")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()


class LambdaServiceException(JsonRESTError):
    code = 500

    def __init__(self, message: str) -> None:
        super().__init__("ServiceException", message)


class _FunctionPool:
    def __init__(self, function: LocalFunction, runtime_env: dict[str, str], log: IO[str]) -> None:
        self.function = function
        self.runtime_env = runtime_env
        self.log = log
        self.idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self.slots = threading.BoundedSemaphore(MAX_WORKERS_PER_FUNCTION)
        self.all: list[_Worker] = []
        self.lock = threading.Lock()

    def _spawn(self) -> _Worker:
        worker = _Worker(self.function, self.runtime_env, self.log)
        with self.lock:
            self.all.append(worker)
        return worker

    def warm(self) -> None:
        self.idle.put(self._spawn())

    def invoke(self, event: Any, timeout_seconds: int, crash: str | None = None) -> Any:
        with self.slots:
            try:
                worker = self.idle.get_nowait()
            except queue.Empty:
                worker = self._spawn()
            if not worker.alive:
                worker = self._spawn()
            try:
                return worker.invoke(event, timeout_seconds, crash)
            finally:
                if worker.alive:
                    self.idle.put(worker)

    def shutdown(self) -> None:
        with self.lock:
            for worker in self.all:
                worker.kill()


class LocalLambdaRuntime:
    def __init__(self, functions: list[LocalFunction], runtime_env: dict[str, str], log_path: Path) -> None:
        self.log = log_path.open("a", encoding="utf-8")
        self.pools = {function.name: _FunctionPool(function, runtime_env, self.log) for function in functions}
        self._original_invoke = LambdaSimpleBackend.invoke
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

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]

    @staticmethod
    def _invoke_quietly(pool: _FunctionPool, event: Any, timeout_seconds: int, crash: str | None) -> None:
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
        LambdaSimpleBackend.invoke = self._original_invoke  # type: ignore[method-assign]
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
