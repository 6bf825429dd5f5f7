"""The layouts the cold-start bench imports from (bench_coldstart.py): a twin of what ``sam build`` builds, for this
machine's platform; the old single layer; what the Lambda runtime provides; and the floor's handler."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from avatar_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
SOURCES = (ROOT / "template.yaml", ROOT / "layers", ROOT / "functions")
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py")
LAMBDA_VERSION = "3.13"


# The floor's handler module (see bench_coldstart.py). Its one model stands for the pydantic model at every function's
# boundary: pydantic imports its fields and types modules, annotated_types and its plugin loader at the first model
# class, whatever its size. Its first import is the pipeline package's, as every handler's is: the rest imports with
# the garbage collector paused (coldstart.py).
FLOOR_HANDLER = """import avatar_pipeline
import boto3, httpx
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
class Layouts:
    """A twin of .aws-sam/build for this machine, the old single layer for this machine and for the Lambda target (for
    its size), and what the runtime provides."""

    built: Path
    old: Path
    old_deployed: Path
    runtime: Path
    floor: Path


def layouts(tmp: Path, python: Interpreter) -> Layouts:
    host, version = f"manylinux2014_{platform.machine()}", ".".join(python.version.split(".")[:2])
    sam_build(tmp / "built", LAMBDA_PLATFORM=host, LAMBDA_PYTHON=version)
    return Layouts(
        built=tmp / "built",
        old=old_layout(tmp / "old", version, host),
        old_deployed=old_layout(tmp / "old-deployed", LAMBDA_VERSION, "manylinux2014_aarch64"),
        runtime=runtime_packages(tmp / "runtime", python),
        floor=floor_handler(tmp / "floor" / "FloorFunction", python),
    )
