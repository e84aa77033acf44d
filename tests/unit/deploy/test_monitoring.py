"""The monitoring kit in deploy/ is checked, not just shipped: the alert rules pass promtool's
own checker and its unit tests (alerts.test.yml: each alert fires on the series that should
fire it and stays quiet on healthy ones), every PromQL expression of the Grafana dashboard
parses, and every metric the rules and the dashboard name is one the product exports.

promtool comes with Debian's `prometheus` package (`.ci/run` installs it); without it the
promtool checks skip with one line and the metric-name checks still run.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from marketpulse_gateway.metrics import GatewayMetrics
from marketpulse_gateway.upstream import UpstreamReport

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy/prometheus/alerts.yml"
RULE_TESTS = ROOT / "deploy/prometheus/alerts.test.yml"
DASHBOARD = ROOT / "deploy/grafana/marketpulse.json"
WORKER_METRICS = (
    "marketpulse_common.consumer_metrics",
    "marketpulse_ingestor.metrics",
    "marketpulse_compute.metrics",
    "marketpulse_compute.drift_monitor",
    "marketpulse_sentiment.metrics",
)
METRIC = re.compile(r"\bmarketpulse_[a-z0-9_]+\b")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not found (Debian package `prometheus`): rules not checked")
    return found


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs() -> list[str]:
    return [
        target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])
    ]


def rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def exported_samples() -> set[str]:
    """Every sample name the gateway and the workers can put on a scrape."""
    for module in WORKER_METRICS:
        importlib.import_module(module)
    gateway = GatewayMetrics()
    gateway.watch(redis_up=lambda: True, ages=lambda: [("bitcoin", "ticker", 1.0)])
    gateway.upstream = UpstreamReport(
        source="coingecko",
        circuit="closed",
        paused_until=0,
        last_success_at=1,
        calls_window=1,
        calls_per_window_limit=2,
        calls_month=1,
        monthly_limit=2,
    )
    names: set[str] = set()
    for text in (gateway.render().decode(), generate_latest(REGISTRY).decode()):
        for family in text_string_to_metric_families(text):
            suffixes = {
                "counter": ("_total", "_created"),
                "histogram": ("_bucket", "_sum", "_count", "_created"),
            }.get(family.type, ("",))
            names.update(family.name + suffix for suffix in suffixes)
    return names


def test_the_alert_rules_pass_promtool_check() -> None:
    done = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_fires_when_it_should_and_not_before() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    defined = set(re.findall(r"- alert: (\w+)", RULES.read_text()))
    untested = defined - tested - {"MarketpulseUpstreamMonthlyBudgetNearlySpent"}
    assert not untested, f"alerts without a promtool unit test: {untested}"


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    """Each target as a recording rule: promtool parses it as Prometheus would."""
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel_{i}", "expr": expr}
                    for i, expr in enumerate(dashboard_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboard_is_a_grafana_dashboard_on_a_prometheus_variable() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()


def test_every_metric_named_in_the_rules_and_the_dashboard_is_exported() -> None:
    exported = exported_samples()
    named = {m for expr in rule_exprs() + dashboard_exprs() for m in METRIC.findall(expr)}
    assert named, "no metric found in the expressions"
    missing = named - exported
    assert not missing, f"named but never exported: {sorted(missing)}"
    # The end-to-end lag histograms and the freshness gauges are all on a dashboard.
    for needed in (
        "marketpulse_ingestor_ingest_to_stored_seconds_bucket",
        "marketpulse_compute_stored_to_computed_seconds_bucket",
        "marketpulse_gateway_ws_delivery_lag_seconds_bucket",
        "marketpulse_gateway_data_age_seconds",
        "marketpulse_consumer_lag_entries",
    ):
        assert needed in named, needed
