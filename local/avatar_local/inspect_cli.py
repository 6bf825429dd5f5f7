"""``avatar-pipeline inspect FILE.mp4|s3://bucket/key [--trust-anchor PEM] [--json]``: what an output says it is.

Prints the implicit AIGC label (the MP4's ``AIGC`` format tag, a JSON object) and the C2PA manifest (generator,
actions with their digital source type, who signed it, whether the signature holds and, with ``--trust-anchor``,
whether the signing certificate chains to that root). An ``s3://`` object is downloaded first, from the local stack
when ``--state-dir`` holds a ``stack.json``, else with boto3's own configuration.

Exit codes: 0 inspected; 1 the manifest is invalid, unreadable, or (with ``--trust-anchor``) missing or not trusted;
2 bad usage (no such file, not an MP4, a bad PEM, an unreachable stack or object), with one line on stderr.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import av
import boto3
from avatar_pipeline.aigc import AigcLabel
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from content_signing.manifests import ContentCredentialsError, ManifestReport, read_manifest
from cryptography import x509

from .operator.target import UsageError
from .stack_info import StackInfo

AIGC_TAG = "AIGC"
AIGC_FIELDS = tuple(AigcLabel.model_fields)  # the standard's seven, in its order
# A person is waiting: one retry, not botocore's default backoff against a stack that is not there.
FAIL_FAST = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=5)
SOURCE_TYPE_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def inspect(target: str, *, state_dir: Path, trust_anchor: Path | None, as_json: bool) -> int:
    """With no ``trust_anchor``, an ``s3://`` output of the running local stack is checked against that stack's own
    C2PA test root (``stack.json``'s ``c2pa_trust_anchor``)."""
    if trust_anchor is None and target.startswith("s3://"):
        trust_anchor = _local_trust_anchor(state_dir)
    anchors = _trust_anchors(trust_anchor) if trust_anchor is not None else None
    if not target.startswith("s3://"):
        return _inspect_file(Path(target), target, anchors, trust_anchor, as_json)
    with tempfile.TemporaryDirectory(prefix="avatar-inspect-") as scratch:
        local = _download(target, Path(scratch), state_dir)
        return _inspect_file(local, target, anchors, trust_anchor, as_json)


def _inspect_file(path: Path, shown: str, anchors: str | None, anchor: Path | None, as_json: bool) -> int:
    aigc = _aigc_label(path, shown)
    try:
        manifest, error = read_manifest(path, trust_anchors_pem=anchors), None
    except ContentCredentialsError as failure:
        manifest, error = None, str(failure)
    document: dict[str, Any] = {
        "source": shown,
        "aigc": aigc,
        "c2pa": asdict(manifest) if manifest else None,
        "c2pa_error": error,
        "trust_anchor": str(anchor) if anchor else None,
    }
    if as_json:
        print(json.dumps(document, indent=2))
    else:
        print("\n".join(_text(shown, aigc, manifest, error, anchor)))
    return 0 if _acceptable(manifest, error, anchored=anchors is not None) else 1


def _acceptable(manifest: ManifestReport | None, error: str | None, *, anchored: bool) -> bool:
    if error is not None:
        return False
    if manifest is None:
        return not anchored
    return manifest.signature_valid and (manifest.trusted is not False)


def _local_trust_anchor(state_dir: Path) -> Path | None:
    try:
        anchor = StackInfo.load(state_dir).c2pa_trust_anchor
    except (FileNotFoundError, TypeError, ValueError):
        return None  # no local stack (a deployed one has no test root), or a stack file _download will refuse
    return Path(anchor) if anchor and Path(anchor).is_file() else None


def _trust_anchors(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--trust-anchor {path}: {_os_reason(error)}") from None
    try:
        x509.load_pem_x509_certificates(text.encode("utf-8"))
    except ValueError:
        raise UsageError(f"--trust-anchor {path}: not a PEM certificate") from None
    return text


def _download(uri: str, scratch: Path, state_dir: Path) -> Path:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key or key.endswith("/"):
        raise UsageError(f"{uri}: expected s3://bucket/key")
    local = scratch / (Path(key).name or "object.mp4")
    where = "boto3's default configuration"
    try:
        if (state_dir / "stack.json").exists():
            info = StackInfo.load(state_dir)
            where = f"the local stack at {info.endpoint_url}"
            client = boto3.client(
                "s3",
                endpoint_url=info.endpoint_url,
                region_name=info.region,
                aws_access_key_id=info.access_key_id,
                aws_secret_access_key=info.secret_access_key,
                config=FAIL_FAST,
            )
        else:
            client = boto3.client("s3", config=FAIL_FAST)
        with local.open("wb") as sink:
            shutil.copyfileobj(client.get_object(Bucket=bucket, Key=key)["Body"], sink)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{state_dir / 'stack.json'} is not a stack file ({type(error).__name__})") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise UsageError(f"{uri}: {code} from {where}") from None
    except BotoCoreError as error:
        raise UsageError(f"{uri}: could not be read with {where} ({type(error).__name__})") from None
    return local


def _aigc_label(path: Path, shown: str) -> dict[str, Any] | None:
    try:
        with path.open("rb") as stream:
            head = stream.read(12)
    except OSError as error:
        raise UsageError(f"{shown}: {_os_reason(error)}") from None
    if head[4:8] != b"ftyp":
        raise UsageError(f"{shown}: not an MP4 (no ftyp box at the start)")
    try:
        with av.open(str(path), "r") as container:
            value = container.metadata.get(AIGC_TAG)
    except av.FFmpegError as error:
        raise UsageError(f"{shown}: not a readable MP4 ({type(error).__name__})") from None
    if value is None:
        return None
    try:
        label = json.loads(value)
    except ValueError:
        return {"invalid": "the AIGC tag is not JSON", "raw": value}
    return label if isinstance(label, dict) else {"invalid": "the AIGC tag is not a JSON object", "raw": value}


def _text(
    shown: str, aigc: dict[str, Any] | None, manifest: ManifestReport | None, error: str | None, anchor: Path | None
) -> list[str]:
    lines = [f"file            {shown}"]
    if aigc is None:
        lines.append("AIGC label      none")
    elif "invalid" in aigc:
        lines.append(f"AIGC label      invalid: {aigc['invalid']}")
    else:
        lines.append("AIGC label")
        names = [*AIGC_FIELDS, *(name for name in aigc if name not in AIGC_FIELDS)]
        lines += [f"  {name:<17} {aigc[name]}" for name in names if name in aigc]
    if error is not None:
        return [*lines, f"C2PA manifest   unreadable: {error}"]
    if manifest is None:
        return [*lines, "C2PA manifest   none"]
    lines += [f"C2PA manifest   {manifest.label}", f"  generator       {manifest.generator}"]
    for action in manifest.actions:
        source = (action.digital_source_type or "no digital source type").removeprefix(SOURCE_TYPE_PREFIX)
        agent = f", by {action.software_agent}" if action.software_agent else ""
        lines.append(f"  action          {action.action} ({source}{agent})")
    lines.append(f"  signed by       {manifest.common_name}, issuer {manifest.issuer} ({manifest.algorithm})")
    return [*lines, f"  validation      {_verdict(manifest, anchor)}"]


def _verdict(manifest: ManifestReport, anchor: Path | None) -> str:
    signature = "signature valid" if manifest.signature_valid else "signature INVALID"
    problems = f" [{', '.join(manifest.failures)}]" if manifest.failures else ""
    if manifest.trusted is None:
        trust = "trust not checked (no --trust-anchor)"
    else:
        trust = f"{'trusted' if manifest.trusted else 'NOT trusted'} by {anchor}"
    return f"{manifest.validation_state}: {signature}, {trust}{problems}"


def _os_reason(error: OSError | UnicodeDecodeError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "a directory, not a file"
    if isinstance(error, UnicodeDecodeError):
        return "not a text file"
    return error.strerror or type(error).__name__
