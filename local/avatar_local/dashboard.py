"""The operators' CloudWatch dashboard and the per-provider alarms, generated into ``template.yaml``.

Everything comes from two lists: the metric catalogue (``avatar_pipeline.metric_catalogue``: names, units, dimensions)
and the provider table (``avatar_pipeline.capabilities.CAPABILITIES``), plus the namespace and the ``service``
dimension the template's Globals give every function. ``python -m avatar_local.dashboard`` writes the resources
between the markers in ``template.yaml``; ``--check`` (part of ``make lint``) fails if they are stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from avatar_pipeline.capabilities import CAPABILITIES
from avatar_pipeline.metric_catalogue import (
    DETECTION_LAG_SECONDS,
    ESTIMATED_SPEND_USD,
    GENERATION_SECONDS,
    JOBS_CANCELLED,
    JOBS_FAILED,
    JOBS_SUCCEEDED,
    OLDEST_QUEUED_SECONDS,
    QUEUE_WAIT_SECONDS,
    SERVICE,
    SLOT_LIMIT,
    SLOTS_IN_USE,
    MetricSpec,
)
from avatar_pipeline.provider_accounts import account_of

from .alarm_resources import generated_alarms
from .template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
START = "  # generated:start (python -m avatar_local.dashboard; edit avatar_local/dashboard.py, not this block)"
END = "  # generated:end"
DASHBOARD = "OperationsDashboard"
WIDTH, HEIGHT = 6, 6


def emitted_by_template(template: dict[str, Any]) -> tuple[str, str]:
    """The metrics namespace and ``service`` dimension value the template gives every function."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    return str(variables["POWERTOOLS_METRICS_NAMESPACE"]), str(variables["POWERTOOLS_SERVICE_NAME"])


def accounts() -> list[str]:
    return sorted({account_of(provider) for provider in CAPABILITIES})


class Metrics:
    """Dashboard metric entries and alarm metric stats for one namespace and service."""

    def __init__(self, namespace: str, service: str) -> None:
        self.namespace, self.service = namespace, service

    def dimensions(self, spec: MetricSpec, value: str) -> dict[str, str]:
        return {spec.dimension: value, SERVICE: self.service}

    def entry(self, spec: MetricSpec, value: str, **options: Any) -> list[Any]:
        flat = [item for pair in self.dimensions(spec, value).items() for item in pair]
        return [self.namespace, spec.name, *flat, options]

    def stat(self, spec: MetricSpec, value: str, *, stat: str, period: int) -> dict[str, Any]:
        dimensions = [{"Name": name, "Value": val} for name, val in self.dimensions(spec, value).items()]
        metric = {"Namespace": self.namespace, "MetricName": spec.name, "Dimensions": dimensions}
        return {"Metric": metric, "Period": period, "Stat": stat}


def _widget(title: str, metrics: list[list[Any]], *, stat: str, period: int, **extra: Any) -> dict[str, Any]:
    properties = {"title": title, "region": "${AWS::Region}", "view": "timeSeries", "stacked": False}
    return {"type": "metric", "properties": properties | {"stat": stat, "period": period, "metrics": metrics} | extra}


def provider_widgets(m: Metrics, provider: str) -> list[dict[str, Any]]:
    timing = [
        m.entry(GENERATION_SECONDS, provider, stat="p50", label="generation p50"),
        m.entry(GENERATION_SECONDS, provider, stat="p95", label="generation p95"),
    ]
    if CAPABILITIES[provider].reports_completion_time:
        timing.append(m.entry(DETECTION_LAG_SECONDS, provider, stat="p95", label="detection lag p95"))
    return [
        _widget(
            f"{provider}: jobs by outcome",
            [
                m.entry(JOBS_SUCCEEDED, provider, label="succeeded"),
                m.entry(JOBS_FAILED, provider, label="failed"),
                m.entry(JOBS_CANCELLED, provider, label="cancelled"),
            ],
            stat="Sum",
            period=300,
        ),
        _widget(f"{provider}: generation time (s)", timing, stat="p50", period=300),
        _widget(
            f"{provider}: queue wait (s)",
            [
                m.entry(QUEUE_WAIT_SECONDS, provider, stat="p50", label="queue wait p50"),
                m.entry(QUEUE_WAIT_SECONDS, provider, stat="p95", label="queue wait p95"),
            ],
            stat="p50",
            period=300,
        ),
        _widget(
            f"{provider}: estimated spend (USD per hour)",
            [m.entry(ESTIMATED_SPEND_USD, provider, label="estimated USD")],
            stat="Sum",
            period=3600,
        ),
    ]


def account_widgets(m: Metrics, account: str) -> list[dict[str, Any]]:
    return [
        _widget(
            f"{account} account: provider slots",
            [m.entry(SLOTS_IN_USE, account, label="in use"), m.entry(SLOT_LIMIT, account, label="limit")],
            stat="Maximum",
            period=60,
        ),
        _widget(
            f"{account} account: oldest queued job (s)",
            [m.entry(OLDEST_QUEUED_SECONDS, account, label="oldest QUEUED job")],
            stat="Maximum",
            period=60,
        ),
    ]


def dashboard_body(namespace: str, service: str) -> str:
    """The dashboard's JSON, one widget per line, with ``${AWS::Region}`` for ``Fn::Sub``."""
    m = Metrics(namespace, service)
    rows = [provider_widgets(m, provider) for provider in sorted(CAPABILITIES)]
    rows += [account_widgets(m, account) for account in accounts()]
    text = (
        "## Avatar pipeline\nJobs by outcome, generation time, queue wait and spend per provider id; slots and the "
        "oldest queued job per provider account. Metrics: namespace `" + namespace + "`, dimensions `Provider` "
        "or `ProviderAccount` plus `service`. Alarms go to the stack's AlarmTopic."
    )
    widgets: list[dict[str, Any]] = [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": text}}
    ]
    for row, row_widgets in enumerate(rows):
        for column, widget in enumerate(row_widgets):
            position = {"x": column * WIDTH, "y": 2 + row * HEIGHT, "width": WIDTH, "height": HEIGHT}
            widgets.append({"type": widget["type"], **position, "properties": widget["properties"]})
    lines = ",\n".join("  " + json.dumps(widget, separators=(",", ":")) for widget in widgets)
    return '{"widgets": [\n' + lines + "\n]}\n"


def generated_resources(namespace: str, service: str) -> dict[str, Any]:
    dashboard = {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {
            "DashboardName": {"Fn::Sub": "${AWS::StackName}-operations"},
            "DashboardBody": {"Fn::Sub": dashboard_body(namespace, service)},
        },
    }
    return {DASHBOARD: dashboard, **generated_alarms(Metrics(namespace, service), accounts())}


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (the dashboard body), so the template shows one widget per line; no
    anchors and aliases for repeated values."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def generated_block() -> str:
    namespace, service = emitted_by_template(load_template(TEMPLATE))
    text = yaml.dump(generated_resources(namespace, service), Dumper=_Dumper, sort_keys=False, width=120)
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())


def regenerated(template_text: str) -> str:
    pattern = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.DOTALL)
    if not pattern.search(template_text):
        raise ValueError(f"template.yaml has no block between {START.strip()!r} and {END.strip()!r}")
    block = f"{START}\n{generated_block()}\n{END}"
    return pattern.sub(lambda _match: block, template_text, count=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if template.yaml's generated block is stale")
    args = parser.parse_args(argv)
    current = TEMPLATE.read_text(encoding="utf-8")
    try:
        wanted = regenerated(current)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    if args.check:
        if wanted != current:
            print("template.yaml's dashboard and alarms are out of date: run python -m avatar_local.dashboard")
            return 1
        return 0
    if wanted != current:
        TEMPLATE.write_text(wanted, encoding="utf-8")
        print("wrote template.yaml (dashboard and alarms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
