"""Two costs of moto's Step Functions interpreter that made the local stack, not the provider, the bottleneck of a
thousand-job run (measured with ``make bench-scale`` and py-spy: together 70 % of the time the stack held the GIL
while a thousand executions were starting):

- every execution parses its state machine's definition again with the ANTLR parser (about 80-150 ms of CPU for
  the job state machine); here each definition is parsed once and every execution gets a deep copy of the parsed
  program (about 10 ms), so no execution shares evaluation state with another;
- every Lambda task, callback and service integration builds a new boto3 client (about 10 ms, far more under
  load); here one client per region, service and endpoint is built and shared (boto3 clients are thread-safe),
  with a connection pool sized for many executions at once.

Patches moto 5.2.x (checked with 5.2.5), which lacks this: every execution parses its definition again and every
call builds a boto3 client. ``tests/integration/test_moto_upstream.py``
(test_interpreter_caches_each_execution_parses_again_and_each_call_builds_a_client) fails once an upgrade brings it;
then this module goes.
"""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from moto.core.models import botocore_stubber
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from .patching import replace

INTERPRETER_PACKAGE = "moto.stepfunctions.parser"
POOL_CONNECTIONS = 128


def install_interpreter_caches() -> Callable[[], None]:
    original_client_for = boto_client_module.boto_client_for
    programs: dict[str, Any] = {}
    clients: dict[tuple[str, str, str | None], Any] = {}
    lock = threading.Lock()

    def evaluation_entrypoint(worker: ExecutionWorker) -> Any:
        definition = worker._evaluation_details.state_machine_details.definition
        with lock:
            parsed = programs.get(definition)
        if parsed is None:
            parsed = AmazonStateLanguageParser.parse(definition)[0]
            with lock:
                programs[definition] = parsed
        return copy.deepcopy(parsed)

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        endpoint = None if botocore_stubber.enabled else f"http://localhost:{moto_server_port()}"
        key = (region, service, endpoint)
        with lock:
            cached = clients.get(key)
        if cached is None:
            built = original_client_for(region=region, service=service, state_credentials=state_credentials)
            with lock:
                cached = clients.setdefault(key, _pooled(built, service, region, endpoint))
        return cached

    undo = replace((ExecutionWorker, "_get_evaluation_entrypoint", evaluation_entrypoint))
    _rebind(original_client_for, client_for)

    def uninstall() -> None:
        undo()
        _rebind(client_for, original_client_for)

    return uninstall


def _pooled(built: Any, service: str, region: str, endpoint: str | None) -> Any:
    """A client like the interpreter's own ``built`` (same endpoint, credentials and timeouts, no retries), with a
    pool large enough for every execution that calls at once."""
    credentials = built._request_signer._credentials  # botocore keeps them private; the interpreter's dummy pair
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        config=built.meta.config.merge(Config(max_pool_connections=POOL_CONNECTIONS)),
    )


def _rebind(old: Callable[..., Any], new: Callable[..., Any]) -> None:
    """Replaces ``old`` by ``new`` wherever the interpreter's modules imported it by name (modules imported later
    take it from ``boto_client``, rebound here too)."""
    for name, module in list(sys.modules.items()):
        if name.startswith(INTERPRETER_PACKAGE) and getattr(module, "boto_client_for", None) is old:
            module.boto_client_for = new  # type: ignore[attr-defined]
