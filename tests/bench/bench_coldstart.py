"""Cold start: importing each handler as ``sam build`` builds it, against the old layout, and what each function
loads from disk.

- Sizes are those of ``.aws-sam/build`` (built here when missing or older than the sources): the arm64 artifacts
  that deploy. Imports cannot run those on another machine (their extension modules are for aarch64), so the
  imports run a twin that ``sam build`` makes with the same Makefiles for this machine's platform.
- A fresh interpreter per import, with the runtime's ``sys.path`` and nothing else (``-S``): the function's folder,
  its layers' ``python/``, then boto3 and what it needs (what the runtime provides, taken from this venv and
  compiled like the runtime's). The interpreter is Python 3.13, the runtime's, when this machine has it.
- As on Lambda, the runtime's bootstrap has imported its own modules before it imports the handler: the clock starts
  after the standard-library modules it imports (``BOOTSTRAP_IMPORTS``).
- The floor: a handler that only imports what the design has every function use (boto3, pydantic, httpx, and
  Powertools' logger, metrics and tracer, patched as observability.py and providers/http.py patch it) and defines
  one one-field model (pydantic at every boundary), with the pipeline layer, after the pipeline package (which pauses
  the garbage collector, coldstart.py). What a handler takes beyond it is the pipeline's own code.
- The collector's pause: the slowest handler imported with it and without it (``gc.disable`` made a no-op),
  alternately, 15 times each.
- Each import alternates with its counterpart (old layout, built, floor), so that a slower spell of the machine falls
  on all of them; the least CPU time over the runs is kept (the machine's own speed drifts by a third from one
  session to the next: the old layout, rebuilt the same, took 837 to 1,049 ms in one run, 994 to 1,386 in another).
- Before = the old layout, measured in this run: the same pins as one layer, installed the old way (with their
  dependencies, so aws-xray-sdk's own botocore ahead of the runtime's, and Pillow in every function), no bytecode.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import instructions
from coldstart_layouts import (
    BUILD,
    LAMBDA_VERSION,
    Function,
    Interpreter,
    Layouts,
    built_is_stale,
    functions,
    interpreter,
    layouts,
    sam_build,
)
from table import Row, render

IMPORT_TARGET_MS = 300.0
# The pause is 5 to 8 % of an import: more turns than the per-function runs, so that a noisy spell does not decide it.
PAUSE_RUNS = 15
SIZE_TARGET_MIB = 25.0
# The old single layer never held c2pa-python: a function with this layer keeps it in the old layout too.
SIGNER_LAYER = "CredentialsLayer"
MIB = 1024 * 1024
# What the runtime and the template give every function (LAMBDA_TASK_ROOT makes Powertools and X-Ray act as on Lambda).
LAMBDA_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "AWS_REGION": "us-east-1",
    "AWS_EXECUTION_ENV": f"AWS_Lambda_python{LAMBDA_VERSION}",
    "POWERTOOLS_SERVICE_NAME": "avatar-pipeline",
    "POWERTOOLS_METRICS_NAMESPACE": "AvatarPipeline",
    "PROVIDER_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:providers",
}
# What the python3.13 runtime's bootstrap (awslambdaric: bootstrap.py and the modules it imports) has imported from the
# standard library when it imports the handler. On python3.12 and later it polls for invocations on a thread
# (lambda_config.py, SUPPORTED_THREADPOLLING_ENVS), so the runtime client it makes before bootstrap.run imports the
# handler has imported ThreadPoolExecutor (lambda_runtime_client.py).
BOOTSTRAP_IMPORTS = (
    "importlib",
    "json",
    "logging",
    "os",
    "sys",
    "time",
    "traceback",
    "decimal",
    "math",
    "enum",
    "concurrent.futures.thread",
)
# Lambda runs with PYTHONDONTWRITEBYTECODE unset, but /opt and /var/task are read-only: nothing written stays.
BOOTSTRAPPED = f"""import {", ".join(BOOTSTRAP_IMPORTS)}
sys.path[:0] = sys.argv[1:]"""
IMPORT_HANDLER = 'importlib.import_module("app")'
# Without coldstart.py's pause of the garbage collector: for the one comparison that measures the pause.
COLLECTOR_RUNNING = "import gc; gc.disable = lambda: None"
MEASURE = f"""{BOOTSTRAPPED}
{{collector}}
start, cpu = time.perf_counter(), time.process_time()
importlib.import_module("app")
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
print(wall * 1000, cpu * 1000, "PIL" in sys.modules, sys.modules["botocore"].__file__)
"""


@dataclass(frozen=True)
class Timing:
    """Over fresh processes: the least CPU time the import took (what is left when nothing else on the machine
    interferes: noise only ever adds), the median, and the median wall time."""

    cpu_ms: float
    median_cpu_ms: float
    wall_ms: float
    pillow: bool


@dataclass(frozen=True)
class Sample:
    wall_ms: float
    cpu_ms: float
    pillow: bool


def _process(code: Path, layers: list[Path], runtime: Path) -> tuple[dict[str, str], list[str]]:
    """The environment and ``sys.path`` (before the interpreter's own) of a function's process."""
    env = {**LAMBDA_ENVIRONMENT, "AWS_LAMBDA_FUNCTION_NAME": code.name, "LAMBDA_TASK_ROOT": str(code)}
    return env, [str(code), *(str(layer / "python") for layer in layers), str(runtime)]


def import_once(
    python: Interpreter, code: Path, layers: list[Path], runtime: Path, *, collector_running: bool = False
) -> Sample:
    """Importing the handler module in a fresh process. Fails if the handler's botocore comes from a layer that sam
    built (the old layer has its own, which is the point of measuring it)."""
    env, path = _process(code, layers, runtime)
    measure = MEASURE.format(collector=COLLECTOR_RUNNING if collector_running else "")
    command = [python.path, "-S", "-c", measure, *path]
    done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"importing {code.name} failed:\n{done.stderr}")
    wall, cpu, pillow, botocore = done.stdout.split()
    if botocore.startswith(str(code.parent)):
        raise RuntimeError(f"{code.name} imported a botocore of its layers: {botocore}")
    return Sample(float(wall), float(cpu), pillow == "True")


def timing(samples: list[Sample]) -> Timing:
    cpus = [sample.cpu_ms for sample in samples]
    walls = [sample.wall_ms for sample in samples]
    return Timing(min(cpus), statistics.median(cpus), statistics.median(walls), samples[-1].pillow)


def size(paths: list[Path]) -> int:
    return sum(file.stat().st_size for path in paths for file in path.rglob("*") if file.is_file())


def files(path: Path, pattern: str = "*") -> int:
    return sum(1 for file in path.rglob(pattern) if file.is_file())


@dataclass(frozen=True)
class Measured:
    function: Function
    old: Timing
    built: Timing
    floor: Timing
    old_size: int
    size: int


def _measure(function: Function, at: Layouts, python: Interpreter, runs: int) -> Measured:
    """The old layout and the built one, alternately, so that a slower spell of the machine falls on both."""
    code = at.built / function.name
    signer = [at.built / SIGNER_LAYER] if SIGNER_LAYER in function.layers else []
    old_layers, built_layers = [at.old, *signer], [at.built / layer for layer in function.layers]
    old, built, floor = [], [], []
    for _ in range(runs):
        old.append(import_once(python, code, old_layers, at.runtime))
        built.append(import_once(python, code, built_layers, at.runtime))
        floor.append(import_once(python, at.floor, [at.built / "PipelineLayer"], at.runtime))
    deployed = [BUILD / function.name, *(BUILD / layer for layer in function.layers)]
    return Measured(
        function,
        old=timing(old),
        built=timing(built),
        floor=timing(floor),
        old_size=size([BUILD / function.name, at.old_deployed]),
        size=size(deployed),
    )


def rows(runs: int = 7) -> list[Row]:
    python = interpreter()
    if built_is_stale():
        sam_build(BUILD)
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        at = layouts(Path(scratch), python)
        load = os.getloadavg()[0]
        print(f"imports: {python.path} (Python {python.version}), {runs} fresh processes each, load {load:.1f}")
        if not python.version.startswith(f"{LAMBDA_VERSION}."):
            print(f"  not the runtime's Python {LAMBDA_VERSION}: the built .pyc do not apply, 'as built' compiles too")
        _print_layers(at.old_deployed)
        measured = [_measure(function, at, python, runs) for function in functions()]
        _print_functions(measured)
        slowest = max(measured, key=lambda m: m.built.cpu_ms).function
        _print_collector_pause(slowest, at, python, max(runs, PAUSE_RUNS))
        _print_instructions(slowest, at, python)
    return _rows(measured)


def _print_layers(old: Path) -> None:
    print("layers (unzipped, as deployed): size, files, bytecode files (.pyc), source files (.py)")
    for name, path in [("old single layer", old), *((p.name, p) for p in sorted(BUILD.glob("*Layer")))]:
        counts = f"{files(path):6} files {files(path, '*.pyc'):6} .pyc {files(path, '*.py'):6} .py"
        print(f"  {name:18} {size([path]) / MIB:6.1f} MiB {counts}")


def _print_functions(measured: list[Measured]) -> None:
    print("handler import, CPU ms: least, median (median wall ms): old layout | as built | the floor beside it;")
    print("function + layers")
    for m in measured:
        timings = " | ".join(
            f"{t.cpu_ms:4.0f} {t.median_cpu_ms:4.0f} ({t.wall_ms:4.0f})" for t in (m.old, m.built, m.floor)
        )
        pillow = ", loads Pillow" if m.built.pillow else ""
        print(f"  {m.function.name:22} {timings}   {m.old_size / MIB:4.1f} -> {m.size / MIB:4.1f} MiB{pillow}")
    # The same module every time: its least over all the runs.
    floor = min(m.floor.cpu_ms for m in measured)
    slowest = max(measured, key=lambda m: m.built.cpu_ms)
    print(f"the floor (boto3, pydantic and one model, httpx, Powertools and its tracer): {floor:.0f} ms;")
    print(f"  the slowest handler, {slowest.function.name}, adds {slowest.built.cpu_ms - floor:.0f} ms to it")


def _print_collector_pause(slowest: Function, at: Layouts, python: Interpreter, runs: int) -> None:
    code, layers = at.built / slowest.name, [at.built / layer for layer in slowest.layers]
    paused, running = [], []
    for _ in range(runs):
        paused.append(import_once(python, code, layers, at.runtime))
        running.append(import_once(python, code, layers, at.runtime, collector_running=True))
    with_pause, without = timing(paused).cpu_ms, timing(running).cpu_ms
    print(
        f"the garbage collector paused during the import (coldstart.py), {slowest.name}: {with_pause:.0f} ms, "
        f"against {without:.0f} ms with it running ({with_pause / without:.2f}x)"
    )


def _print_instructions(slowest: Function, at: Layouts, python: Interpreter) -> None:
    """The slowest handler's import and the floor's, in instructions: figures to compare across runs and sessions."""
    if not instructions.available():
        print("instructions: valgrind is not installed here, so none are counted")
        return
    counted = {}
    for name, code, layers in [
        ("the floor", at.floor, [at.built / "PipelineLayer"]),
        (slowest.name, at.built / slowest.name, [at.built / layer for layer in slowest.layers]),
    ]:
        env, path = _process(code, layers, at.runtime)
        counted[name] = instructions.beyond(python.path, BOOTSTRAPPED, IMPORT_HANDLER, path, env, str(code))
    floor, handler = counted["the floor"], counted[slowest.name]
    print(f"instructions (callgrind: the same on any day): {slowest.name} {handler / 1e6:,.0f} M, the floor")
    print(f"  {floor / 1e6:,.0f} M: the pipeline's own code is {handler / floor - 1:.0%} on top of it")


def _rows(measured: list[Measured]) -> list[Row]:
    slowest_old = max(m.old.cpu_ms for m in measured)
    slowest = max(measured, key=lambda m: m.built.cpu_ms)
    largest = max(measured, key=lambda m: m.size)
    largest_old = max(m.old_size for m in measured)
    return [
        Row(
            metric=f"handler import as built by sam build, least CPU time (slowest: {slowest.function.name}; "
            "before: the old single layer, no .pyc)",
            target=f"≤ {IMPORT_TARGET_MS:.0f} ms",
            before=f"{slowest_old:.0f} ms",
            after=f"{slowest.built.cpu_ms:.0f} ms",
            ratio=f"{slowest.built.cpu_ms / slowest_old:.2f}x",
            met=slowest.built.cpu_ms <= IMPORT_TARGET_MS,
        ),
        Row(
            metric=f"largest function plus its layers, unzipped ({largest.function.name}; "
            "before: with the old single layer)",
            target=f"≤ {SIZE_TARGET_MIB:.0f} MiB",
            before=f"{largest_old / MIB:.1f} MiB",
            after=f"{largest.size / MIB:.1f} MiB",
            ratio=f"{largest.size / largest_old:.2f}x",
            met=largest.size <= SIZE_TARGET_MIB * MIB,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per import (the least is kept)")
    print(render(rows(parser.parse_args().runs)))


if __name__ == "__main__":
    main()
