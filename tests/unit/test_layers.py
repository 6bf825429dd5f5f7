"""What each function loads at a cold start: its layers in the template, what its handler imports, the bytecode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from avatar_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = {
    logical: resource["Properties"]
    for logical, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
# Imports every handler but those named, each as a module of its own; reports what came with them.
IMPORT_HANDLERS = """
import gc, importlib.util, json, sys
for folder in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("handler_" + folder, f"functions/{folder}/app.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # registered, as an import would
    spec.loader.exec_module(module)
loaded = {"pillow": "PIL" in sys.modules, "c2pa": "c2pa" in sys.modules, "boto3": "boto3" in sys.modules}
import boto3, botocore.client, http.client
clients = [type(o).__name__ for o in gc.get_objects() if isinstance(o, botocore.client.BaseClient)]
aws = sys.modules.get("avatar_pipeline.aws")
sessions = boto3.DEFAULT_SESSION is not None or (aws is not None and aws._session.cache_info().currsize > 0)
loaded["registry"] = "avatar_pipeline.providers.registry" in sys.modules
adapters = ("kling", "volcengine", "wavespeed")
loaded["adapters"] = any(f"avatar_pipeline.providers.{name}" in sys.modules for name in adapters)
loaded.update({name: name in sys.modules for name in ("httpx", "sqlite3", "jwt")})
# X-Ray wraps (wrapt, so __wrapped__) botocore's calls and http.client's requests beneath them.
traced = (botocore.client.BaseClient._make_api_call, http.client.HTTPConnection._send_request)
loaded["traced_aws"] = all(hasattr(method, "__wrapped__") for method in traced)
loaded["event_classes"] = "aws_lambda_powertools.utilities.data_classes" in sys.modules
loaded["event_models"] = "aws_lambda_powertools.utilities.parser.models" in sys.modules
client = sys.modules.get("avatar_pipeline.providers.http")
loaded["traced_http"] = client is not None and any(
    c.__module__ == "aws_xray_sdk.ext.httpx.patch" for c in client.DeadlineClient.__mro__
)
print(json.dumps({**loaded, "clients": clients, "session": sessions}))
"""


def _layers(properties: dict[str, object]) -> list[str]:
    own = properties.get("Layers", [])
    assert isinstance(own, list)
    return [ref["Ref"] for ref in [*TEMPLATE["Globals"]["Function"].get("Layers", []), *own]]


def _imports(folders: list[str]) -> dict[str, object]:
    # LAMBDA_TASK_ROOT, as on Lambda: elsewhere the X-Ray SDK's sampler makes a client of its own at import.
    env = {**os.environ, "POWERTOOLS_SERVICE_NAME": "avatar-pipeline", "AWS_DEFAULT_REGION": "us-east-1"}
    env["PROVIDER_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:providers"
    env["LAMBDA_TASK_ROOT"] = str(ROOT / "functions")
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_HANDLERS, *folders], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _handlers_calling(name: str) -> set[str]:
    folders = {Path(p["CodeUri"]).name for p in FUNCTIONS.values()}
    return {folder for folder in folders if name in (ROOT / "functions" / folder / "app.py").read_text()}


def test_only_validate_media_has_the_imaging_layer_and_only_sign_video_the_credentials_layer() -> None:
    layers = {logical: _layers(properties) for logical, properties in FUNCTIONS.items()}
    assert {logical for logical, names in layers.items() if "ImagingLayer" in names} == {"ValidateMediaFunction"}
    # SignVideo's one layer keeps it within 25 MiB: c2pa-python's native library is 20 MiB by itself.
    assert layers.pop("SignVideoFunction") == ["CredentialsLayer"]
    assert all(names[0] == "PipelineLayer" and "CredentialsLayer" not in names for names in layers.values())


def test_handlers_import_only_their_layers_and_none_creates_a_client_at_import() -> None:
    without = [Path(p["CodeUri"]).name for p in FUNCTIONS.values() if "ImagingLayer" not in _layers(p)]
    assert _imports(without)["pillow"] is False
    unsigned = [Path(p["CodeUri"]).name for p in FUNCTIONS.values() if "CredentialsLayer" not in _layers(p)]
    assert _imports(unsigned)["c2pa"] is False
    everything = _imports(sorted(Path(p["CodeUri"]).name for p in FUNCTIONS.values()))
    assert everything["pillow"] is True
    assert everything["c2pa"] is True
    # Clients come from cached factories, at the first invocation that needs one.
    assert everything["clients"] == []
    assert everything["session"] is False


def test_only_the_handlers_that_read_secrets_at_import_load_boto3() -> None:
    """Clients come from a botocore session (aws.py) and attribute values convert without boto3 (dynamo.py): the boto3
    package, and s3transfer and multiprocessing with it, loads only with Powertools' parameters (PersistResult reads
    the provider secret through it) or in SignVideo, which makes its own client."""
    folders = {Path(p["CodeUri"]).name for p in FUNCTIONS.values()}
    assert _imports(sorted(folders - {"persist_result", "sign_video"}))["boto3"] is False


def test_handlers_import_no_adapter_and_only_those_that_call_a_provider_import_the_registry() -> None:
    """The others check requests against the capability table. The registry imports a job's adapter when the job
    first needs it (the three adapters: about 35 M instructions, 2 % of a handler's import)."""
    folders = {Path(p["CodeUri"]).name for p in FUNCTIONS.values()}
    calling = _handlers_calling("adapter_for")
    assert calling == {"submit_job", "check_status", "persist_result", "webhook"}
    assert _imports(sorted(folders - calling))["registry"] is False
    imported = _imports(sorted(calling))
    assert (imported["registry"], imported["adapters"]) == (True, False)


def test_only_handlers_that_make_http_calls_import_httpx_and_their_client_is_traced() -> None:
    """X-Ray patches httpx where the client is made, not with everything it supports (httpx, sqlite3: about 23 ms)."""
    folders = {Path(p["CodeUri"]).name for p in FUNCTIONS.values()}
    calling = _handlers_calling("invocation_client")
    assert calling == {"submit_job", "check_status", "persist_result", "webhook", "validate_media"}
    without = _imports(sorted(folders - calling))
    assert (without["httpx"], without["sqlite3"]) == (False, False)
    assert without["traced_aws"] is True
    for folder in sorted(calling):
        assert _imports([folder])["traced_http"] is True, folder


def test_no_handler_imports_every_powertools_event_class_or_model_or_pyjwt() -> None:
    """The Webhook reads its function URL event itself: the data classes' package imports all of them (about 12 ms).
    The EventBridge and S3 events are eventbridge.py's models: Powertools' parser models package imports its every
    model (122 M instructions, a twelfth of a handler's import). PyJWT signs Kling's legacy key pair only, on the
    first call that needs a token (about 8 ms)."""
    everything = _imports(sorted(Path(p["CodeUri"]).name for p in FUNCTIONS.values()))
    assert (everything["event_classes"], everything["event_models"], everything["jwt"]) == (False, False, False)


def test_no_layer_requires_what_the_runtime_provides_and_pillow_is_in_the_imaging_layer_alone() -> None:
    pinned = {
        path.parent.name: {
            line.split("==")[0].split("[")[0].lower()
            for line in path.read_text().splitlines()
            if line and not line.startswith("#")
        }
        for path in ROOT.glob("layers/*/requirements.txt")
    }
    assert not any(names & RUNTIME_PROVIDED for names in pinned.values())
    assert {layer for layer, names in pinned.items() if "pillow" in names} == {"imaging"}
    assert {layer for layer, names in pinned.items() if "c2pa-python" in names} == {"credentials"}


def test_the_credentials_layer_pins_the_c2pa_python_the_tests_use_and_the_pipeline_layers_powertools() -> None:
    pins = _pins("credentials")
    assert next(pin for pin in pins if pin.startswith("c2pa-python==")) in _pyproject_pins()
    pipeline_powertools = next(pin for pin in _pins("pipeline") if pin.startswith("aws-lambda-powertools"))
    assert pipeline_powertools in pins
    # Installed without dependencies: what Powertools' tracer needs is pinned to what the tests run with.
    for name in ("aws-xray-sdk", "wrapt", "typing-extensions"):
        assert f"{name}=={version(name)}" in pins


def _pins(layer: str) -> list[str]:
    lines = (ROOT / f"layers/{layer}/requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _pyproject_pins() -> list[str]:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return [pin for names in extras.values() for pin in names]


def test_bytecode_is_for_python_313_and_used_whatever_the_sources_mtime(tmp_path: Path) -> None:
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    if not any(pyenv.glob("versions/3.13*/bin/python3.13")):
        pytest.skip("no Python 3.13 here: bytecode.sh builds without .pyc")
    (tmp_path / "app.py").write_text("VALUE = 1\n")
    subprocess.run(["sh", str(ROOT / "layers" / "bytecode.sh"), str(tmp_path)], check=True, capture_output=True)
    pyc = (tmp_path / "__pycache__" / "app.cpython-313.pyc").read_bytes()
    # PEP 552 flags: bit 0 hash-based, bit 1 check_source; unchecked-hash is hash-based and never checked.
    assert int.from_bytes(pyc[4:8], "little") == 0b01
