"""Following executions on the local stack: clients from ``stack.json``, finding the execution a trigger
started, and printing its progress state by state."""

from __future__ import annotations

import time
from typing import Any

import boto3

from .stack_info import StackInfo


def aws_client(info: StackInfo, service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=info.endpoint_url,
        region_name=info.region,
        aws_access_key_id=info.access_key_id,
        aws_secret_access_key=info.secret_access_key,
    )


def wait_for_execution(sfn: Any, state_machine_arn: str, marker: str, timeout: float) -> str:
    """The execution whose input mentions ``marker`` (EventBridge starts it under a generated name)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if marker in described.get("input", ""):
                return str(execution["executionArn"])
        time.sleep(0.2)
    raise TimeoutError(f"no execution started for {marker} within {timeout:.0f} s")


def follow_execution(sfn: Any, execution_arn: str, timeout: float) -> tuple[dict[str, Any], list[tuple[str, float]]]:
    """Prints each state as it is entered; returns the final description and (state, seconds) per state."""
    deadline = time.monotonic() + timeout
    seen = 0
    entered: dict[str, float] = {}
    phases: list[tuple[str, float]] = []
    while True:
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        for event in events[seen:]:
            stamp = event["timestamp"].timestamp()
            if event["type"].endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                entered[name] = stamp
                print(f"  → {name}", flush=True)
            elif event["type"].endswith("StateExited"):
                name = event["stateExitedEventDetails"]["name"]
                phases.append((name, stamp - entered.get(name, stamp)))
        seen = len(events)
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described, phases
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still running after {timeout:.0f} s")
        time.sleep(0.25)


def print_phases(phases: list[tuple[str, float]]) -> None:
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, seconds in phases:
        totals[name] = totals.get(name, 0.0) + seconds
        counts[name] = counts.get(name, 0) + 1
    for name, seconds in totals.items():
        repeat = f" (x{counts[name]})" if counts[name] > 1 else ""
        print(f"  {name + repeat:<22}{seconds:7.2f} s")
