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
  one one-field model (pydantic at every boundary), with the pipeline layer. What a handler takes beyond it is the
  pipeline's own code.
- Each import alternates with its counterpart (old layout, built, floor), so that a slower spell of the machine falls
  on all of them; the least CPU time over the runs is kept (the machine's own speed drifts by a third from one
  session to the next: the old layout, rebuilt the same, took 837 to 1,049 ms in one run, 994 to 1,386 in another).
- Before = the old layout, measured in this run: the same pins as one layer, installed the old way (with their
  dependencies, so aws-xray-sdk's own botocore ahead of the runtime's, and Pillow in every function), no bytecode.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import instructions
from avatar_local.template import load_template
from table import Row, render

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
SOURCES = (ROOT / "template.yaml", ROOT / "layers", ROOT / "functions")
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py")
LAMBDA_VERSION = "3.13"
IMPORT_TARGET_MS = 300.0
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
MEASURE = f"""{BOOTSTRAPPED}
start, cpu = time.perf_counter(), time.process_time()
importlib.import_module("app")
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
print(wall * 1000, cpu * 1000, "PIL" in sys.modules, sys.modules["botocore"].__file__)
"""


# The floor's handler module (see the docstring). Its one model stands for the pydantic model at every function's
# boundary: pydantic imports its fields and types modules, annotated_types and its plugin loader at the first model
# class, whatever its size.
FLOOR_HANDLER = """import boto3, httpx
from pydantic import BaseModel
from aws_lambda_powertools import Logger, Metrics, Tracer

logger, metrics, tracer = Logger(), Metrics(), Tracer(patch_modules=["botocore", "httplib"])
tracer.patch(["httpx"])


class Event(BaseModel):
    job_id: str
"""


@dataclass(frozen=True)
class Function:
    name: str
    layers: tuple[str, ...]


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str


def interpreter() -> Interpreter:
    """Python 3.13 (the runtime's, which the built .pyc are for) if this machine has it, else this one."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [*map(str, sorted(pyenv.glob(f"versions/{LAMBDA_VERSION}*/bin/python{LAMBDA_VERSION}")))]
    candidates += [found for found in [shutil.which(f"python{LAMBDA_VERSION}")] if found]
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True)
        if probe.returncode == 0 and probe.stdout.decode().startswith(f"{LAMBDA_VERSION}."):
            return Interpreter(candidate, probe.stdout.decode().strip())
    return Interpreter(sys.executable, platform.python_version())


def functions() -> list[Function]:
    """Each function with its layers as SAM gives them: the Globals' list, then the function's own."""
    template = load_template(ROOT / "template.yaml")
    shared = [ref["Ref"] for ref in template["Globals"]["Function"].get("Layers", [])]
    return [
        Function(logical, (*shared, *(ref["Ref"] for ref in resource["Properties"].get("Layers", []))))
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]


def sam_build(build_dir: Path, **make_variables: str) -> None:
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, **make_variables, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    command = [str(venv_bin / "sam"), "build", "--template", "template.yaml", "--build-dir", str(build_dir)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)


def built_is_stale() -> bool:
    built = BUILD / "template.yaml"
    if not built.exists():
        return True
    files = [path for source in SOURCES for path in [source, *source.rglob("*")] if path.is_file()]
    newest = max(path.stat().st_mtime for path in files if "__pycache__" not in path.parts)
    return newest > built.stat().st_mtime


def old_layout(target: Path, python_version: str, platform_tag: str) -> Path:
    """The old single layer: both requirement sets with all their dependencies, and the package, no bytecode."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--only-binary=:all:"]
    pip += ["--platform", platform_tag, "--implementation", "cp", "--python-version", python_version]
    # The credentials layer came later (and has no manylinux2014 wheel): the old layer never held it.
    requirements = [
        arg for name in ("imaging", "pipeline") for arg in ("-r", str(ROOT / f"layers/{name}/requirements.txt"))
    ]
    subprocess.run([*pip, "--target", str(target / "python"), *requirements], check=True, capture_output=True)
    package = ROOT / "layers/pipeline/avatar_pipeline"
    shutil.copytree(package, target / "python/avatar_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def runtime_packages(target: Path, python: Interpreter) -> Path:
    """What the Lambda runtime has on sys.path after the layers: boto3 and its dependencies, compiled."""
    site = Path(sysconfig.get_paths()["purelib"])
    for name in RUNTIME_PROVIDED:
        if (site / name).is_dir():
            shutil.copytree(site / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(site / name, target / name)
    subprocess.run([python.path, "-m", "compileall", "-q", "-j0", str(target)], check=True, capture_output=True)
    return target


def floor_handler(folder: Path, python: Interpreter) -> Path:
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(FLOOR_HANDLER)
    subprocess.run([python.path, "-m", "compileall", "-q", str(folder)], check=True, capture_output=True)
    return folder


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


def import_once(python: Interpreter, code: Path, layers: list[Path], runtime: Path) -> Sample:
    """Importing the handler module in a fresh process. Fails if the handler's botocore comes from a layer that sam
    built (the old layer has its own, which is the point of measuring it)."""
    env, path = _process(code, layers, runtime)
    command = [python.path, "-S", "-c", MEASURE, *path]
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


@dataclass(frozen=True)
class Layouts:
    """A twin of .aws-sam/build for this machine, the old single layer for this machine and for the Lambda target (for
    its size), and what the runtime provides."""

    built: Path
    old: Path
    old_deployed: Path
    runtime: Path
    floor: Path


def _layouts(tmp: Path, python: Interpreter) -> Layouts:
    host, version = f"manylinux2014_{platform.machine()}", ".".join(python.version.split(".")[:2])
    sam_build(tmp / "built", LAMBDA_PLATFORM=host, LAMBDA_PYTHON=version)
    return Layouts(
        built=tmp / "built",
        old=old_layout(tmp / "old", version, host),
        old_deployed=old_layout(tmp / "old-deployed", LAMBDA_VERSION, "manylinux2014_aarch64"),
        runtime=runtime_packages(tmp / "runtime", python),
        floor=floor_handler(tmp / "floor" / "FloorFunction", python),
    )


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
        layouts = _layouts(Path(scratch), python)
        load = os.getloadavg()[0]
        print(f"imports: {python.path} (Python {python.version}), {runs} fresh processes each, load {load:.1f}")
        if not python.version.startswith(f"{LAMBDA_VERSION}."):
            print(f"  not the runtime's Python {LAMBDA_VERSION}: the built .pyc do not apply, 'as built' compiles too")
        _print_layers(layouts.old_deployed)
        measured = [_measure(function, layouts, python, runs) for function in functions()]
        _print_functions(measured)
        _print_instructions(max(measured, key=lambda m: m.built.cpu_ms).function, layouts, python)
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
