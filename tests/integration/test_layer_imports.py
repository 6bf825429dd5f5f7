"""The layers as their Makefiles build them (for this machine's platform, Python 3.13 as on Lambda): bytecode alone
for third-party modules, Pillow without the extensions image checks never use, Powertools without its event handler
(and in the credentials layer, without what SignVideo never uses). What is left out must not be what a handler
imports, a check decodes or SignVideo signs with."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from avatar_local.template import load_template
from avatar_local.test_chain import make_test_chain
from PIL import Image

from tests.unit.test_content_credentials import make_mp4

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py")
# With the Lambda runtime's AWS_EXECUTION_ENV, the pipeline's handlers import with the garbage collector paused, and
# their first call, whatever its event and context, freezes what the import made and resumes it (coldstart.py).
IMPORT_HANDLER = """
import gc, sys
sys.path[:0] = sys.argv[1:]
import app
paused = not gc.isenabled()
try:
    app.lambda_handler({}, object())
except Exception:
    pass
print("PIL" in sys.modules, paused, gc.isenabled(), gc.get_freeze_count() > 0)
"""
# SignVideo's work with nothing but the credentials layer and the runtime's boto3: its handler's Powertools logger
# and secret reader, and content_signing's whole path (with S3 as a folder), down to the reader sign_mp4 checks with.
SIGN = """
import os, shutil, sys
from pathlib import Path
sys.path[:0] = sys.argv[1:3]
from aws_lambda_powertools import Logger, Tracer
from content_signing.manifests import read_manifest
from content_signing.signing_key import signing_key
from content_signing.stored_video import SignRequest, SigningKey, sign_stored_video

class Folder:
    def download_file(self, bucket, key, path):
        shutil.copy(Path(sys.argv[3]) / key, path)
    def upload_file(self, path, bucket, key, ExtraArgs):
        shutil.copy(path, Path(sys.argv[3]) / key)

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "SignVideo", 512, "request-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:SignVideo"

tracer = Tracer(patch_modules=["botocore", "httplib"])

@Logger(service="avatar-pipeline").inject_lambda_context
@tracer.capture_lambda_handler
def handler(event, context):
    return sign_stored_video(Folder(), SignRequest.parse(event), SigningKey(os.environ["CHAIN"], os.environ["KEY"]))

request = {"job_id": "j", "bucket": "b", "generator": "wavespeed/omnihuman-1.5"}
outcome = handler({**request, "source_key": "video.mp4", "destination_key": "signed.mp4"}, Context())
report = read_manifest(Path(sys.argv[3]) / "signed.mp4")
import botocore.client
traced = hasattr(botocore.client.BaseClient._make_api_call, "__wrapped__")
print(outcome.manifest_label, report.signature_valid, traced, "pydantic" in sys.modules)
"""
DECODE = """
import sys
sys.path.insert(0, sys.argv[1])
from PIL import Image, features
for path in sys.argv[2:]:
    with Image.open(path) as image:
        image.load()
        print(image.format, image.size)
print("avif", features.check("avif"), "freetype", features.check("freetype2"), "lcms", features.check("littlecms2"))
"""


def _python313() -> str:
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = sorted(pyenv.glob("versions/3.13*/bin/python3.13"))
    if not found:
        pytest.skip("no Python 3.13 here to import layers built for the runtime")
    return str(found[0])


def _build(layer: str, target: Path) -> Path:
    variables = [f"ARTIFACTS_DIR={target}", f"LAMBDA_PLATFORM=manylinux2014_{platform.machine()}"]
    variables.append(f"PIP={sys.executable} -m pip")
    subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers" / layer), f"build-{layer.capitalize()}Layer", *variables],
        check=True,
        capture_output=True,
    )
    return target / "python"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    _python313()
    root = tmp_path_factory.mktemp("layers")
    runtime = root / "runtime"
    runtime.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for name in RUNTIME_PROVIDED:
        copy = shutil.copytree if (site / name).is_dir() else shutil.copy2
        copy(site / name, runtime / name)
    return {
        "pipeline": _build("pipeline", root / "pipeline"),
        "imaging": _build("imaging", root / "imaging"),
        "credentials": _build("credentials", root / "credentials"),
        "runtime": runtime,
    }


def test_every_handler_imports_from_its_layers_as_built(built: dict[str, Path]) -> None:
    template = load_template(ROOT / "template.yaml")
    functions = {
        Path(resource["Properties"]["CodeUri"]).name: [ref["Ref"] for ref in resource["Properties"].get("Layers", [])]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert not template["Globals"]["Function"].get("Layers")
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "avatar-pipeline"}
    env["PROVIDER_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:providers"
    env |= {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "AWS_EC2_METADATA_DISABLED": "true"}
    for folder, layers in sorted(functions.items()):
        path = [
            str(ROOT / "functions" / folder),
            *(str(built[layer.removesuffix("Layer").lower()]) for layer in layers),
        ]
        done = subprocess.run(
            [_python313(), "-S", "-c", IMPORT_HANDLER, *path, str(built["runtime"])],
            cwd=ROOT / "functions" / folder,
            env={**env, "LAMBDA_TASK_ROOT": str(ROOT / "functions" / folder)},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{folder}: {done.stderr}"
        pipeline = "PipelineLayer" in layers
        expected = ["ImagingLayer" in layers, pipeline, True, pipeline]
        assert done.stdout.split() == [str(value) for value in expected], folder


def test_the_credentials_layer_alone_runs_sign_videos_path(built: dict[str, Path], tmp_path: Path) -> None:
    chain = make_test_chain()
    source = make_mp4(tmp_path / "video.mp4")
    done = subprocess.run(
        [_python313(), "-S", "-c", SIGN, str(built["credentials"]), str(built["runtime"]), str(source.parent)],
        env={
            "PATH": "/usr/bin:/bin",
            "CHAIN": chain.certificate_chain_pem,
            "KEY": chain.private_key_pem,
            # As on Lambda, so that the tracer patches (and so imports the X-Ray SDK from the layer).
            "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "sign_video"),
            "AWS_LAMBDA_FUNCTION_NAME": "SignVideo",
            "AWS_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    label, valid, traced, loaded = done.stdout.splitlines()[-1].split()
    assert (label.startswith("urn:"), valid, traced, loaded) == (True, "True", "True", "False")


def test_third_party_modules_ship_as_bytecode_alone_and_our_packages_with_their_sources(built: dict[str, Path]) -> None:
    sources = {path.relative_to(built["pipeline"]).parts[0] for path in built["pipeline"].rglob("*.py")}
    assert sources == {"avatar_pipeline"}
    assert {path.relative_to(built["credentials"]).parts[0] for path in built["credentials"].rglob("*.py")} == {
        "content_signing"
    }
    assert not list(built["imaging"].rglob("*.py"))
    assert (built["pipeline"] / "pydantic" / "main.pyc").is_file()


def test_nothing_left_in_powertools_imports_its_event_handler_but_lazily(built: dict[str, Path]) -> None:
    """A tripwire for Powertools upgrades: the modules that name the event handler we leave out. shared/functions
    imports it inside pydantic_to_dict (Powertools' JSON encoder, for idempotency and set_secret, neither used);
    auth_alpha is an integration nothing imports."""
    powertools = built["pipeline"] / "aws_lambda_powertools"
    assert not (powertools / "event_handler").exists()
    naming = {
        str(path.relative_to(powertools))
        for path in powertools.rglob("*.pyc")
        if b"aws_lambda_powertools.event_handler" in path.read_bytes()
    }
    assert {name for name in naming if not name.startswith("utilities/auth_alpha/")} == {"shared/functions.pyc"}


def test_the_imaging_layer_decodes_jpeg_png_and_webp_without_the_extensions_it_drops(
    built: dict[str, Path], tmp_path: Path
) -> None:
    layer = built["imaging"]
    assert not list(layer.glob("PIL/_avif*"))
    assert not list(layer.glob("pillow.libs/libfreetype*"))
    images = []
    for image_format, suffix in (("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")):
        path = tmp_path / f"portrait.{suffix}"
        Image.new("RGB", (64, 48), (200, 120, 90)).save(path, format=image_format)
        images.append(str(path))
    decoded = subprocess.run(
        [_python313(), "-S", "-c", DECODE, str(layer), *images], capture_output=True, text=True, check=True
    )
    assert decoded.stdout.splitlines() == [
        "JPEG (64, 48)",
        "PNG (64, 48)",
        "WEBP (64, 48)",
        "avif False freetype False lcms False",
    ]
