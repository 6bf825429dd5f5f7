"""The dashboard shows only metrics the code emits: each widget's metric (name and exact dimension set) is in the
catalogue, an ``emit`` call in the production code names it, and running the emitters prints it with exactly those
dimensions. ``tests/e2e/test_metrics.py`` checks the same against what a local stack's handlers really printed."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from avatar_local import dashboard
from avatar_pipeline import job_metrics, metric_catalogue
from avatar_pipeline.admission import Waiter
from avatar_pipeline.capabilities import CAPABILITIES
from avatar_pipeline.dispatch import queued_since
from avatar_pipeline.metric_catalogue import CATALOGUE, SERVICE

from tests.dashboard_metrics import (
    NAMESPACE,
    SERVICE_NAME,
    Shown,
    emitted_metrics,
    shown,
    widgets_from_template,
)

ROOT = Path(__file__).resolve().parents[2]
BY_NAME = {spec.name: spec for spec in CATALOGUE}
PRODUCTION = [
    *sorted((ROOT / "layers/pipeline/avatar_pipeline").rglob("*.py")),
    *sorted((ROOT / "functions").glob("*/app.py")),
]

# Sorted by a text that does not depend on a frozenset's order (the hash seed), so every process (pytest-xdist's
# workers) collects the same tests in the same order.
ALL_SHOWN = sorted(
    {metric for widget in widgets_from_template() for metric in shown(widget)},
    key=lambda m: (m[0], m[1], sorted(m[2])),
)


def test_the_template_holds_the_generated_dashboard_and_alarms() -> None:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert dashboard.regenerated(text) == text, "run python -m avatar_local.dashboard"


def test_the_namespace_and_service_are_the_ones_every_function_is_given() -> None:
    assert (NAMESPACE, SERVICE_NAME) == ("AvatarPipeline", "avatar-pipeline")
    assert all(namespace == NAMESPACE for namespace, _, _ in ALL_SHOWN)


@pytest.mark.parametrize("metric", ALL_SHOWN, ids=lambda m: f"{m[1]}:{dict(sorted(m[2]))}")
def test_every_dashboard_metric_is_in_the_catalogue_with_its_exact_dimension_set(metric: Shown) -> None:
    _, name, dimensions = metric
    spec = BY_NAME[name]
    assert {key for key, _ in dimensions} == spec.dimensions
    assert dict(dimensions)[SERVICE] == SERVICE_NAME


def test_every_provider_and_account_has_its_widgets_with_p50_and_p95() -> None:
    titles = {widget["properties"].get("title") for widget in widgets_from_template()}
    for provider in CAPABILITIES:
        for what in ("jobs by outcome", "generation time (s)", "queue wait (s)", "estimated spend (USD per hour)"):
            assert f"{provider}: {what}" in titles
    for account in dashboard.accounts():
        assert {f"{account} account: provider slots", f"{account} account: oldest queued job (s)"} <= titles
    stats = {
        (name, entry[-1].get("stat"))
        for widget in widgets_from_template()
        for entry in widget["properties"].get("metrics", [])
        for name in [entry[1]]
    }
    assert {("GenerationSeconds", "p50"), ("GenerationSeconds", "p95")} <= stats
    assert {("QueueWaitSeconds", "p50"), ("QueueWaitSeconds", "p95")} <= stats


def _emit_calls() -> dict[str, set[str]]:
    """For each catalogue constant, the files whose ``emit(...)`` calls name it as the metric (AST scan)."""
    constants = {name: getattr(metric_catalogue, name) for name in dir(metric_catalogue) if name.isupper()}
    found: dict[str, set[str]] = {}
    for path in PRODUCTION:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "emit"):
                continue
            for name in (n.id for n in ast.walk(node.args[0]) if isinstance(n, ast.Name)):
                spec = constants.get(name)
                if isinstance(spec, metric_catalogue.MetricSpec):
                    found.setdefault(spec.name, set()).add(path.name)
    return found


def _add_metric_names() -> set[str]:
    """Metric names given to Powertools' ``add_metric`` directly (the handlers' other metrics)."""
    names = set()
    for path in PRODUCTION:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_metric":
                for keyword in node.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        names.add(str(keyword.value.value))
    return names


def test_every_shown_metric_is_emitted_by_an_emit_call_and_by_nothing_else() -> None:
    emitted = _emit_calls()
    assert {name for _, name, _ in ALL_SHOWN} <= set(emitted), "a widget shows a metric no code emits"
    assert not {spec.name for spec in CATALOGUE} & _add_metric_names(), "a catalogue metric emitted another way"


def test_the_emitters_are_called_from_the_steps_that_know_the_values() -> None:
    """outcome.py (RecordOutcome and Reconcile), AdmitJob and DispatchSlots call them."""
    called: dict[str, set[str]] = {}
    for path in PRODUCTION:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                called.setdefault(name, set()).add(f"{path.parent.name}/{path.name}")
    assert "avatar_pipeline/outcome.py" in called["outcome_published"]
    assert "admit_job/app.py" in called["admitted"]
    assert "dispatch_slots/app.py" in called["account_state"]


def _blobs(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_running_the_emitters_prints_every_catalogue_metric_with_exactly_its_dimensions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", SERVICE_NAME)
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    timings = {"generation_seconds": 41.5, "detection_lag_seconds": 0.4}
    detail = {"provider": "kling/avatar", "timings": timings, "estimated_cost_usd": 0.6}
    job_metrics.outcome_published(True, detail)
    job_metrics.outcome_published(False, {"provider": "kling/avatar", "error": "JobCancelled"})
    job_metrics.outcome_published(False, {"provider": "kling/avatar", "error": "ProviderTaskFailed"})
    job_metrics.admitted("kling/avatar", (now - timedelta(seconds=90)).isoformat(), now)
    job_metrics.account_state("kling", in_use=2, limit=5, oldest_queued_since=None, now=now)
    blobs = _blobs(capsys.readouterr().out)
    emitted = emitted_metrics(blobs)
    for spec in CATALOGUE:
        value = "kling" if spec.dimension == "ProviderAccount" else "kling/avatar"
        assert (NAMESPACE, spec.name, frozenset({(spec.dimension, value), (SERVICE, SERVICE_NAME)})) in emitted
    values = {name: blob[name] for blob in blobs for name in BY_NAME if name in blob}
    assert values["QueueWaitSeconds"] == [90.0]
    assert values["GenerationSeconds"] == [41.5]


def test_no_namespace_or_no_provider_emits_nothing_and_never_fails(capsys: pytest.CaptureFixture[str]) -> None:
    job_metrics.outcome_published(True, {"provider": None, "timings": {"generation_seconds": 3.0}})
    assert not _blobs(capsys.readouterr().out)


def test_the_oldest_waiter_is_read_from_its_sort_key_and_its_age_emitted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    since = "2025-03-01T11:30:00+00:00"
    waiter = Waiter(key="alice#2", account="kling", sort_key=f"wait#{since}#alice#2", token="t", execution_arn="arn")
    assert queued_since(waiter) == since
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    job_metrics.account_state(
        "kling", in_use=5, limit=5, oldest_queued_since=since, now=datetime(2025, 3, 1, 12, tzinfo=UTC)
    )
    (oldest,) = [blob for blob in _blobs(capsys.readouterr().out) if "OldestQueuedSeconds" in blob]
    assert oldest["OldestQueuedSeconds"] == [1800.0]
