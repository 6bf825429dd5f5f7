"""The local Lambda service's worker processes: a pool per function, each worker started with exactly the
environment the template gives that function (plus what the Lambda runtime provides), so functions are isolated from
each other and invocations run concurrently. Each invocation carries its deadline to the worker; a handler still
running at the deadline is killed and the invocation fails with ``Sandbox.Timedout``. An injected crash (``before``,
``after``, ``during:<seconds>``) kills the worker at that point and fails the invocation with ``Runtime.ExitError``.
"""

from __future__ import annotations

import json
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

from .call_recorder import worker_environment

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
    logical_id: str = ""


def _exit_error(how: str) -> dict[str, str]:
    return {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited with error: signal: killed ({how})"}


class InvocationError(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("errorMessage", "function error"))
        self.payload = payload


class Worker:
    def __init__(self, function: LocalFunction, runtime_env: dict[str, str], log: IO[str]) -> None:
        env = {
            **runtime_env,
            **function.environment,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "LAMBDA_TASK_ROOT": str(function.code_dir),
            "_HANDLER": function.handler,
            **worker_environment(function.logical_id),
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


class FunctionPool:
    def __init__(self, function: LocalFunction, runtime_env: dict[str, str], log: IO[str]) -> None:
        self.function = function
        self.runtime_env = runtime_env
        self.log = log
        self.idle: queue.LifoQueue[Worker] = queue.LifoQueue()
        self.slots = threading.BoundedSemaphore(MAX_WORKERS_PER_FUNCTION)
        self.all: list[Worker] = []
        self.lock = threading.Lock()

    def _spawn(self) -> Worker:
        worker = Worker(self.function, self.runtime_env, self.log)
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
