"""Drift made visible: Prometheus gauges (served by start_metrics_endpoint) and a log event.

Gauges are per replica: each exports what it last evaluated, so aggregate with max() over
instances. The structured event `forecast drift status changed` is logged when a published
evaluation's status differs from the one it replaced (the stored snapshot, so replicas
agree on what "changed" means); the first status is logged only when it is not ok.
"""

from __future__ import annotations

from prometheus_client import Gauge

from marketpulse_common.events import DriftStatus, Evaluation
from marketpulse_common.logs import get_logger
from marketpulse_compute.drift import severity

log = get_logger(__name__)

DRIFT_STATUS = Gauge(
    "marketpulse_compute_drift_status",
    "Forecast drift status per asset and timeframe: 0 ok, 1 warn, 2 alert.",
    ["asset", "tf"],
)
FEATURE_PSI = Gauge(
    "marketpulse_compute_feature_psi",
    "Population stability index of a forecast feature, recent window vs training window.",
    ["asset", "tf", "feature"],
)
BRIER_SKILL = Gauge(
    "marketpulse_compute_brier_skill",
    "Brier skill score of the forecaster against a baseline over all scored forecasts.",
    ["asset", "tf", "baseline"],
)


def observe(evaluation: Evaluation, previous: DriftStatus | None) -> None:
    """Export `evaluation`'s drift and skill; log when its status differs from `previous`."""
    asset, tf, drift = evaluation.asset, evaluation.tf.value, evaluation.drift
    DRIFT_STATUS.labels(asset, tf).set(severity(drift.status))
    for feature in drift.features:
        FEATURE_PSI.labels(asset, tf, feature.feature).set(feature.psi)
    for baseline, skill in (
        ("climatology", evaluation.overall.vs_climatology),
        ("persistence", evaluation.overall.vs_persistence),
    ):
        if skill.brier_skill is not None:
            BRIER_SKILL.labels(asset, tf, baseline).set(skill.brier_skill)
    if drift.status == previous or (previous is None and drift.status == "ok"):
        return
    emit = log.info if drift.status == "ok" else log.warning
    emit(
        "forecast drift status changed",
        asset=asset,
        tf=tf,
        previous=previous,
        status=drift.status,
        as_of=evaluation.as_of,
        psi_max=drift.psi_max,
        brier_degradation=drift.brier_degradation,
        reasons=drift.reasons[:5],
    )
