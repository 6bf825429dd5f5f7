"""The garbage collector during a cold start (coldstart.py): paused from the package's first import to the handler's
first call in a Lambda runtime, left alone anywhere else. The collector's state is the process's, so each case runs
in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_PARENT = Path(__file__).resolve().parents[2] / "layers" / "pipeline"
LAMBDA = {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"}
RUN = """
import gc, sys
sys.path.insert(0, sys.argv[1])
{before}
import avatar_pipeline
from avatar_pipeline.coldstart import ends_cold_start

@ends_cold_start
def handler(event, context):
    if event == "fail":
        raise ValueError(event)
    return gc.isenabled(), gc.get_freeze_count()

seen = [gc.isenabled()]
try:
    seen.append(handler("fail", None))
except ValueError:
    seen.append((gc.isenabled(), gc.get_freeze_count()))
made_since = [[] for _ in range(1000)]
seen.append(handler("event", None))
print(seen)
"""


def _run(env: dict[str, str], before: str = "") -> list[object]:
    clean = {name: value for name, value in os.environ.items() if name != "AWS_EXECUTION_ENV"}
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(before=before), str(PACKAGE_PARENT)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return list(eval(done.stdout))  # noqa: S307 - the repr of a list of booleans and tuples the child printed


def test_on_lambda_the_import_runs_without_the_collector_and_the_first_call_freezes_and_resumes_it() -> None:
    paused, first, second = _run(LAMBDA)
    assert paused is False
    enabled, frozen = first
    assert enabled is True
    assert frozen > 1000  # the interpreter's and the package's objects, out of the collector's way
    # Later calls freeze nothing more (the 1,000 lists made since would be): the count only drops, as frozen objects
    # that are freed leave it.
    assert second[0] is True
    assert second[1] <= frozen


def test_a_first_call_that_fails_has_resumed_the_collector_all_the_same() -> None:
    _, first, _ = _run(LAMBDA)
    assert first[0] is True


@pytest.mark.parametrize("env", [{}, {"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}], ids=["no runtime", "not Lambda"])
def test_elsewhere_the_collector_is_left_alone(env: dict[str, str]) -> None:
    assert _run(env) == [True, (True, 0), (True, 0)]


def test_a_collector_the_host_turned_off_stays_off() -> None:
    assert _run(LAMBDA, before="gc.disable()") == [False, (False, 0), (False, 0)]
