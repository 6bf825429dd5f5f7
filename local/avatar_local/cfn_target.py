"""Where the local stack's resources are created: the local AWS endpoint, and how resources are named there."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from .function_urls import FunctionUrlServer
from .template import ExpandedTemplate


@dataclass(frozen=True)
class Target:
    template: ExpandedTemplate
    session: boto3.Session
    endpoint_url: str
    stack_name: str
    region: str
    function_urls: dict[str, FunctionUrlServer] = field(default_factory=dict)
    """The local servers of the template's function URLs, by logical id."""

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def name(self, logical_id: str, max_length: int = 64, *, lowercase: bool = False) -> str:
        """A physical name as CloudFormation makes one: the stack's name, the logical id and a stable suffix."""
        suffix = hashlib.sha1(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:8]  # noqa: S324 - naming only
        name = f"{self.stack_name}-{logical_id}"[: max_length - 9] + f"-{suffix}"
        return name.lower() if lowercase else name


def zip_folder(source: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(source).as_posix())
    return buffer.getvalue()
