"""Drift reaches Prometheus on every evaluation and the log only when its status changes."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from marketpulse_common.events import DriftStatus, Evaluation
from marketpulse_compute import drift_monitor
from marketpulse_compute.evaluation import EvaluationConfig, evaluate
from marketpulse_compute.forecaster import ForecastConfig
from marketpulse_compute.ledger import Ledger
from tests.unit.compute.series import TF, random_walk

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def evaluation_with(status: DriftStatus, asset: str) -> Evaluation:
    cols = random_walk(300, seed=1)
    base = evaluate(asset, TF, Ledger(entries=[]), cols, ForecastConfig(), EvaluationConfig(), NOW)
    return base.model_copy(update={"drift": base.drift.model_copy(update={"status": status})})


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_status_and_feature_psi_are_exported_as_gauges() -> None:
    """0 ok, 1 warn, 2 alert per asset/timeframe, and one PSI gauge per feature."""
    evaluation = evaluation_with("warn", "gauge-asset")
    drift_monitor.observe(evaluation, None)
    assert gauge("marketpulse_compute_drift_status", asset="gauge-asset", tf="1h") == 1.0
    first = evaluation.drift.features[0]
    psi = gauge(
        "marketpulse_compute_feature_psi", asset="gauge-asset", tf="1h", feature=first.feature
    )
    assert psi == first.psi
    drift_monitor.observe(evaluation_with("alert", "gauge-asset"), "warn")
    assert gauge("marketpulse_compute_drift_status", asset="gauge-asset", tf="1h") == 2.0


def test_a_change_of_status_is_logged_once_as_a_structured_event() -> None:
    """ok → warn logs a warning with the reasons; warn → warn logs nothing."""
    changed = evaluation_with("warn", "log-asset")
    with capture_logs() as logs:
        drift_monitor.observe(changed, "ok")
        drift_monitor.observe(changed, "warn")
    events = [e for e in logs if e["event"] == "forecast drift status changed"]
    assert len(events) == 1
    event = events[0]
    assert (event["log_level"], event["previous"], event["status"]) == ("warning", "ok", "warn")
    assert (event["asset"], event["tf"]) == ("log-asset", "1h")
    assert "reasons" in event


def test_a_first_status_is_logged_only_when_it_is_not_ok() -> None:
    """A fresh asset starting ok is not news; starting in alert is."""
    with capture_logs() as logs:
        drift_monitor.observe(evaluation_with("ok", "first-asset"), None)
        drift_monitor.observe(evaluation_with("alert", "other-asset"), None)
    statuses = [e["status"] for e in logs if e["event"] == "forecast drift status changed"]
    assert statuses == ["alert"]
