"""Records the AWS API calls the local stack's principals make, for the policy check (``avatar_local.policy``).

Off unless ``AVATAR_PIPELINE_CALL_LOG`` names a file. Then each call is appended to that file as one JSON line
(``O_APPEND``, one write per line, so the stack and its Lambda workers share it):
``{"principal", "service", "operation", "resource", "status"}``. ``principal`` is a template logical id, ``service``
botocore's service name, ``resource`` only the parameters that name a resource (never a body, an item, a task token or
a secret value) and ``status`` the HTTP status, null when no answer came. Who records what:

- a Lambda worker: every client its handler makes, as its function (``install_for_worker``);
- the stack process (``StackRecorder``): the Step Functions interpreter's clients, as the state machine whose
  execution calls, and the EventBridge rules' deliveries to state machines and functions, as the rule.

A presigned URL is recorded as the call it grants (``"presigned": true``, status null): whoever uses it acts with the
signer's permissions. Each stack also writes one ``{"stack": ...}`` line mapping its physical names and ARNs to
``${LogicalId}`` placeholders (``Fn::Sub`` syntax: ``${Id}`` is the Ref, ``${Id.Attribute}`` the GetAtt), with which
``avatar_local.policy.inventory`` makes the calls stack-independent.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .patching import replace

if TYPE_CHECKING:
    from .cfn_intrinsics import Created

LOG_VARIABLE = "AVATAR_PIPELINE_CALL_LOG"
PRINCIPAL_VARIABLE = "AVATAR_PIPELINE_CALL_PRINCIPAL"
_CALL = "avatar_local.call_recorder"
_NAMED_BY = (
    "Bucket",
    "Key",
    "VersionId",
    "Prefix",
    "TableName",
    "IndexName",
    "SecretId",
    "stateMachineArn",
    "executionArn",
    "mapRunArn",
    "FunctionName",
)
_MAPPED_ATTRIBUTES = ("Arn", "Name")

Principal = Callable[[], str | None]
Delivery = Callable[[str, str, str, dict[str, Any], int | None], None]


def resource_of(service: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a call that name the resources it acts on."""
    resource: dict[str, Any] = {name: params[name] for name in _NAMED_BY if isinstance(params.get(name), str)}
    if "CopySource" in params:
        resource["CopySource"] = _copy_source(params["CopySource"])
    if isinstance(params.get("RequestItems"), Mapping):
        resource["RequestItems"] = sorted(params["RequestItems"])
    if isinstance(params.get("TransactItems"), list):
        resource["TransactItems"] = [_transact_item(item) for item in params["TransactItems"]]
    if service == "events" and isinstance(params.get("Entries"), list):
        resource["Entries"] = [str(entry.get("EventBusName") or "default") for entry in params["Entries"]]
    return resource


def _copy_source(source: Any) -> dict[str, str]:
    if isinstance(source, Mapping):
        return {"Bucket": str(source.get("Bucket")), "Key": str(source.get("Key"))}
    path = unquote(str(source).partition("?versionId=")[0]).lstrip("/")
    bucket, _, key = path.partition("/")
    return {"Bucket": bucket, "Key": key}


def _transact_item(item: Mapping[str, Any]) -> dict[str, str]:
    operation, body = next(iter(item.items()))
    return {"op": str(operation), "TableName": str(body.get("TableName"))}


class CallRecorder:
    """Appends the calls of the clients it instruments to ``path``; ``principal()`` names the caller of each (None:
    the call is not recorded)."""

    def __init__(self, path: str, principal: Principal) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._principal = principal
        self._closed = False
        self._lock = threading.Lock()  # no write to a closed descriptor, or to the file that reused its number

    def write(self, line: Mapping[str, Any]) -> None:
        data = (json.dumps(line, default=str) + "\n").encode()
        with self._lock:
            if not self._closed:
                os.write(self._fd, data)

    def instrument(self, client: Any) -> None:
        events = client.meta.events
        # unique ids: a client instrumented twice (a cached one) still records each call once
        events.register("before-parameter-build", self._before, unique_id=f"{_CALL}.before")
        events.register("after-call", self._after, unique_id=f"{_CALL}.after")
        events.register("after-call-error", self._unanswered, unique_id=f"{_CALL}.error")

    def _before(self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        principal = self._principal()
        if principal is None:
            return
        service = str(model.service_model.service_name)
        call = {
            "principal": principal,
            "service": service,
            "operation": str(model.name),
            "resource": resource_of(service, params),
            "status": None,
        }
        if context.get("is_presign_request"):
            self.write({**call, "presigned": True})
        else:
            context[_CALL] = call

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        call = context.pop(_CALL, None)
        if call is not None:
            self.write({**call, "status": int(http_response.status_code)})

    def _unanswered(self, context: dict[str, Any], **_: Any) -> None:
        call = context.pop(_CALL, None)
        if call is not None:
            self.write(call)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._fd)


def install(recorder: CallRecorder) -> Callable[[], None]:
    """Instruments every botocore client made from now on, from any session; returns the function that undoes it."""
    from botocore.session import Session

    original = Session.create_client

    def create_client(session: Session, *args: Any, **kwargs: Any) -> Any:
        client = original(session, *args, **kwargs)
        recorder.instrument(client)
        return client

    return replace((Session, "create_client", create_client))


def worker_environment(principal: str) -> dict[str, str]:
    """What a Lambda worker needs to record its calls as ``principal``: nothing when recording is off."""
    path = os.environ.get(LOG_VARIABLE)
    return {LOG_VARIABLE: path, PRINCIPAL_VARIABLE: principal} if path and principal else {}


def install_for_worker() -> None:
    """In a Lambda worker, before the handler is imported. Takes the recorder's variables out of the environment, so
    the handler sees exactly the one its template gives it."""
    path = os.environ.pop(LOG_VARIABLE, None)
    principal = os.environ.pop(PRINCIPAL_VARIABLE, None)
    if path and principal:
        install(CallRecorder(path, lambda: principal))


class StackRecorder:
    """The stack process's part: the interpreter's calls and the rules' deliveries."""

    def __init__(self, path: str) -> None:
        from moto.stepfunctions.parser.asl.eval.environment import Environment

        self._environment_type = Environment
        self._logical_ids: dict[str, str] = {}
        self.calls = CallRecorder(path, self._calling_state_machine)
        self._uninstall = install(self.calls)

    @classmethod
    def from_environment(cls) -> StackRecorder | None:
        path = os.environ.get(LOG_VARIABLE)
        return cls(path) if path else None

    def provisioned(self, resources: Mapping[str, Created], account: str, region: str) -> None:
        """Learns the stack's logical ids, and writes its ``{"stack": ...}`` line."""
        names: dict[str, str] = {}
        for logical_id, created in resources.items():
            names.setdefault(created.physical_id, f"${{{logical_id}}}")
            self._logical_ids[created.physical_id] = logical_id
            for attribute in _MAPPED_ATTRIBUTES:
                value = created.attributes.get(attribute)
                if value:
                    names.setdefault(value, f"${{{logical_id}.{attribute}}}")
                    self._logical_ids.setdefault(value, logical_id)
        self.calls.write({"stack": {"account": account, "region": region, "names": names}})

    def _calling_state_machine(self) -> str | None:
        """The logical id of the state machine whose execution makes this call: the interpreter runs states, branches
        and iterations on threads of their own, but every call is made below a frame holding the execution's
        ``env``. None for any other caller in the stack process (provisioning, function URLs)."""
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            if "env" in code.co_varnames or "env" in code.co_freevars:
                env = frame.f_locals.get("env")
                if isinstance(env, self._environment_type):
                    arn = str(env.states.context_object.context_object_data["StateMachine"]["Id"])
                    return self._logical_ids.get(arn, arn)
            frame = frame.f_back
        return None

    def delivered(self, rule: str, service: str, operation: str, resource: dict[str, Any], status: int | None) -> None:
        """A rule's delivery to a target, which EventBridge makes as the rule."""
        principal = self._logical_ids.get(rule, rule)
        self.calls.write(
            {"principal": principal, "service": service, "operation": operation, "resource": resource, "status": status}
        )

    def close(self) -> None:
        self._uninstall()
        self.calls.close()
