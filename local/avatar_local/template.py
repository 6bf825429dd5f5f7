"""Reads ``template.yaml`` and expands it offline with the SAM translator into plain CloudFormation.

The local stack provisions from this expansion, so resource names, handlers, environment variables,
policies and the state machine come from the template alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

LOCAL_CODE_BUCKET = "avatar-pipeline-local-code"
_URI_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a template")
    return document


@dataclass
class ExpandedTemplate:
    """The CloudFormation expansion plus where each packaged artifact lives in the repository."""

    resources: dict[str, dict[str, Any]]
    parameters: dict[str, dict[str, Any]]
    outputs: dict[str, Any]
    local_paths: dict[str, Path] = field(default_factory=dict)  # placeholder key -> source folder/file

    def local_path(self, placeholder_key: str) -> Path:
        return self.local_paths[placeholder_key]


def expand(template_path: Path, parameter_values: dict[str, str], region: str) -> ExpandedTemplate:
    sam = copy.deepcopy(load_template(template_path))
    local_paths: dict[str, Path] = {}
    for logical_id, resource in sam.get("Resources", {}).items():
        prop = _URI_PROPERTIES.get(resource.get("Type", ""))
        if prop is None:
            continue
        source = (template_path.parent / resource["Properties"][prop]).resolve()
        local_paths[logical_id] = source
        resource["Properties"][prop] = f"s3://{LOCAL_CODE_BUCKET}/{logical_id}"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    cfn = translator.translate(
        sam, parameter_values={"AWS::Region": region, **parameter_values}, get_managed_policy_map=dict
    )
    return ExpandedTemplate(
        resources=cfn["Resources"],
        parameters=cfn.get("Parameters", {}),
        outputs=cfn.get("Outputs", {}),
        local_paths=local_paths,
    )
