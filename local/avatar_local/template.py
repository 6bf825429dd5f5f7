"""Reads ``template.yaml`` and expands it offline with the SAM translator into plain CloudFormation.

The local stack provisions from this expansion, so resource names, handlers, environment variables,
policies and the state machine come from the template alone.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
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
    # A YAML alias (*name) loads as the very object its anchor made; each resource gets a copy of its own, as it
    # does from ``sam build``, so nothing done to one resource reaches another.
    return dict(json.loads(json.dumps(document)))


@dataclass
class ExpandedTemplate:
    """The CloudFormation expansion plus where each packaged artifact lives in the repository."""

    resources: dict[str, dict[str, Any]]
    parameters: dict[str, dict[str, Any]]
    outputs: dict[str, Any]
    local_paths: dict[str, Path] = field(default_factory=dict)  # placeholder key -> source folder/file
    conditions: dict[str, Any] = field(default_factory=dict)

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
        conditions=cfn.get("Conditions", {}),
    )


def scannable(template_path: Path, region: str) -> dict[str, Any]:
    """The expansion as one CloudFormation document, for IaC scanners (``make security`` runs checkov on it).

    A scanner reading ``template.yaml`` itself never sees what SAM generates: the functions' and the state
    machine's roles, the Step Functions state machine, the EventBridge rules, their dead-letter queues. SAM
    copies a function's or state machine's ``Metadata`` to the resource it becomes, but not to the resources
    it generates beside it; here a ``Metadata: checkov:`` block written on a SAM resource is carried to
    those too (a generated resource's logical id starts with its SAM resource's), so every suppression and
    its reason is written once, on the resource in ``template.yaml`` it is about.
    """
    sam_resources = load_template(template_path).get("Resources", {})
    expanded = expand(template_path, {}, region)
    owners = sorted(
        (logical for logical, r in sam_resources.items() if str(r.get("Type", "")).startswith("AWS::Serverless::")),
        key=len,
        reverse=True,
    )
    resources = copy.deepcopy(expanded.resources)
    for logical, resource in resources.items():
        if logical in sam_resources:
            continue
        owner = next((o for o in owners if logical.startswith(o)), None)
        checkov = sam_resources.get(owner, {}).get("Metadata", {}).get("checkov") if owner else None
        if checkov is not None:
            resource.setdefault("Metadata", {})["checkov"] = copy.deepcopy(checkov)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": expanded.parameters,
        "Resources": resources,
        "Outputs": expanded.outputs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m avatar_local.template",
        description="Write template.yaml expanded offline to plain CloudFormation JSON, for IaC scanners.",
    )
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    document = scannable(args.template.resolve(), args.region)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.template} expanded to {args.output} ({len(document['Resources'])} resources)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
