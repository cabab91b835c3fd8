"""The Grafana dashboard and the Prometheus alert rules name only metrics the gateway exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import gateway.core.metrics  # noqa: F401  (registers every family)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "lendgate-dashboard.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
NAMED = re.compile(r"\blendgate_[a-z0-9_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_series() -> dict[str, str]:
    """Every series name the gateway's families export, mapped to its family."""
    series = {}
    for family in REGISTRY.collect():
        if family.name.startswith("lendgate_"):
            for suffix in SUFFIXES.get(family.type, ("",)):
                series[family.name + suffix] = family.name
    return series


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in rules["groups"] for rule in group["rules"]]


def named_in(expressions: list[str]) -> set[str]:
    return {name for expression in expressions for name in NAMED.findall(expression)}


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_metric_named_is_exported(source: str) -> None:
    expressions = (
        dashboard_expressions()
        if source == "dashboard"
        else [rule["expr"] for rule in alert_rules()]
    )
    named = named_in(expressions)

    assert named, f"the {source} names no metric"
    assert named <= set(exported_series()), sorted(named - set(exported_series()))


def test_the_dashboard_shows_every_family() -> None:
    shown = {exported_series()[name] for name in named_in(dashboard_expressions())}

    assert shown == set(exported_series().values())


def test_every_alert_has_a_severity_a_summary_and_an_entry_in_the_runbook() -> None:
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert f"`{rule['alert']}`" in runbook, f"{rule['alert']} is not explained"
