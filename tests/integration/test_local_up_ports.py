"""``avatar-pipeline local up`` on a port something already listens on: one line on stderr and a non-zero exit at
once, rather than a stack that never comes up (before, it printed werkzeug's complaint and hung)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


@pytest.mark.parametrize("option", ["--port", "--simulator-port"])
def test_a_busy_port_ends_local_up_with_one_line(listening: int, option: str, tmp_path: Path) -> None:
    other = "--simulator-port" if option == "--port" else "--port"
    command = [sys.executable, "-m", "avatar_local.cli", "local", "up", option, str(listening), other, "0"]
    done = subprocess.run(
        [*command, "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    busy = f"127.0.0.1:{listening} is already in use (stop what holds it, or pass 0)"
    assert done.stderr.strip() == f"avatar-pipeline: {option} {listening}: {busy}"
    assert not (tmp_path / "stack.json").exists()


def test_demo_takes_a_port_and_refuses_a_busy_one_the_same_way(listening: int, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "avatar_local.cli", "demo", "--port", str(listening), "--state-dir", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"avatar-pipeline: --port {listening}: 127.0.0.1:{listening} is already")


@pytest.mark.parametrize(
    ("override", "said"),
    [("NoSuchParameter=1", "unknown template parameter(s): NoSuchParameter"), ("PollMinSeconds=abc", "not a number")],
)
def test_a_bad_parameter_override_ends_local_up_with_one_line_and_exit_2(
    override: str, said: str, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "avatar_local.cli", "local", "up", "--port", "0", "--simulator-port", "0"]
    done = subprocess.run(
        [*command, "--state-dir", str(tmp_path), "--parameter-overrides", override],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("avatar-pipeline:")]
    assert said in line
    assert not (tmp_path / "stack.json").exists()
