"""Instructions a piece of Python code executes, counted by valgrind's callgrind: the same count whatever else the
machine is doing, where CPU times on this machine drift by a third from one hour to the next. Slow (an import of a
handler takes about half a minute under valgrind), so the cold-start bench counts only what it compares."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence

COLLECTED = re.compile(r"Collected : (\d+)")


def available() -> bool:
    return shutil.which("valgrind") is not None


def count(python: str, code: str, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> int:
    """Instructions of ``python -S -c code *argv``, start to exit."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, "-S", "-c", code, *argv]
    done = subprocess.run(command, cwd=cwd, env=dict(env), capture_output=True, text=True)
    found = COLLECTED.search(done.stderr)
    if done.returncode or found is None:
        raise RuntimeError(f"callgrind failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1))


def beyond(python: str, before: str, code: str, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> int:
    """Instructions ``code`` adds to ``before`` (both run in a fresh process each)."""
    return count(python, f"{before}\n{code}", argv, env, cwd) - count(python, before, argv, env, cwd)
