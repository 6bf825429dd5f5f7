"""Reading the dashboard back out of ``template.yaml``, and metrics out of EMF blobs: shared by the unit test of the
dashboard and the end-to-end check of what the handlers printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avatar_local import dashboard
from avatar_local.template import load_template

ROOT = Path(__file__).resolve().parents[1]
SOURCE = load_template(ROOT / "template.yaml")
NAMESPACE, SERVICE_NAME = dashboard.emitted_by_template(SOURCE)

Shown = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, metric name, dimensions (name, value)


def widgets_from_template() -> list[dict[str, Any]]:
    """The dashboard body as CloudFormation renders it (``Fn::Sub`` with the region)."""
    body = SOURCE["Resources"][dashboard.DASHBOARD]["Properties"]["DashboardBody"]["Fn::Sub"]
    return list(json.loads(body.replace("${AWS::Region}", "eu-west-1"))["widgets"])


def shown(widget: dict[str, Any]) -> list[Shown]:
    found = []
    for entry in widget["properties"].get("metrics", []):
        namespace, name, *rest = [item for item in entry if not isinstance(item, dict)]
        found.append((namespace, name, frozenset(zip(rest[::2], rest[1::2], strict=True))))
    return found


def emitted_metrics(blobs: list[dict[str, Any]]) -> set[Shown]:
    """Every (namespace, metric, dimensions) an EMF blob carries."""
    found = set()
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, str(blob[name])) for name in dimension_set)
                found |= {(directive["Namespace"], metric["Name"], dimensions) for metric in directive["Metrics"]}
    return found
