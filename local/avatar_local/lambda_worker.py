"""One warm Lambda execution environment: imports a handler once and serves invocations over stdin.

Run as ``python -m avatar_local.lambda_worker CODE_DIR HANDLER [LAYER_DIR ...]`` with the function's own
environment. Requests and responses are JSON lines; everything the handler prints goes to stderr. Each request
carries its invocation's deadline (epoch milliseconds, like the Lambda runtime API's ``Lambda-Runtime-Deadline-Ms``),
which the context counts down to.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from avatar_local.call_recorder import install_for_worker


@dataclass
class LocalLambdaContext:
    function_name: str
    memory_limit_in_mb: int
    deadline_ms: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    @property
    def invoked_function_arn(self) -> str:
        region = os.environ.get("AWS_REGION", "us-east-1")
        return f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def main() -> None:
    code_dir, handler_spec, *layer_dirs = sys.argv[1:]
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # One write per line (print's text and newline together), so lines of concurrent workers never interleave in the
    # shared log; unbuffered (PYTHONUNBUFFERED), print would write the two apart.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True, write_through=False)
    sys.path[:0] = [code_dir, *layer_dirs]
    os.chdir(code_dir)
    module_name, _, function_name = handler_spec.rpartition(".")
    install_for_worker()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        init_error: dict[str, Any] | None = None
    except Exception as error:  # an import failure is reported on every invocation, as Lambda does
        init_error = {**_error(error), "errorType": "Runtime.ImportModuleError"}
    channel.write(json.dumps({"ready": True}) + "\n")
    channel.flush()
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalLambdaContext(
            function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            memory_limit_in_mb=int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),
            deadline_ms=int(request["deadline_ms"]),
            aws_request_id=request["request_id"],
        )
        if init_error is not None:
            response: dict[str, Any] = {"error": init_error}
        else:
            try:
                response = {"result": handler(request["event"], context)}
            except Exception as error:
                response = {"error": _error(error)}
        channel.write(json.dumps(response, default=str) + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
