"""Is the market the model learned from still the market it forecasts? No I/O.

Two signals, each mapped to ok | warn | alert, and the worse one wins:
- Feature drift: population stability index of every feature, the last `recent_window`
  candles against the newest model's training window, with bins cut at the training
  window's deciles. PSI = sum (a - e) ln(a / e) over bins, with a and e the
  recent and reference shares. The usual reading, used here: < 0.1 stable, 0.1-0.25 a
  shift worth a look (warn), >= 0.25 a real shift (alert).
- Brier degradation: the Brier score of the last `recent_scored` scored forecasts against
  the score of all of them, as a ratio - 1. +10 % warns, +25 % alerts (with p near 0.5 a
  Brier score barely moves, so a quarter worse means the model is confidently wrong).
Both need enough samples (`min_samples`) to mean anything; with fewer they say "ok".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketpulse_common.events import DriftReport, DriftStatus, FeatureDrift
from marketpulse_compute.features import FeatureMatrix

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# An empty bin would make ln(a / e) infinite; a floor of 1e-4 caps one bin's term at
# about 0.1 * ln(1000) ~ 0.7, as most PSI implementations do.
_SHARE_FLOOR = 1e-4
_SEVERITY: dict[DriftStatus, int] = {"ok": 0, "warn": 1, "alert": 2}


@dataclass(frozen=True, slots=True)
class DriftConfig:
    # PSI of small samples is biased upwards: two samples of one distribution score about
    # (bins - 1) / n on their own. With 10 bins and a 400-candle training window, 150 recent
    # candles keep that floor below 0.05 (95th percentile ~0.07 for independent values), so
    # "warn" means a shift and not sampling noise; 100 would warn on noise one time in five.
    recent_window: int = 150
    bins: int = 10
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    recent_scored: int = 100
    brier_warn: float = 0.10
    brier_alert: float = 0.25
    min_samples: int = 50


def severity(status: DriftStatus) -> int:
    return _SEVERITY[status]


def psi(reference: FloatArray, recent: FloatArray, bins: int = 10) -> float:
    """Population stability index of `recent` against `reference` (fixed reference bins)."""
    if reference.size == 0 or recent.size == 0:
        raise ValueError("PSI needs both samples")
    quantiles = np.quantile(reference, np.arange(1, bins) / bins)
    edges = np.unique(quantiles)  # a feature with repeated values has fewer distinct cuts
    expected = _shares(reference, edges)
    actual = _shares(recent, edges)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def feature_drift(
    features: FeatureMatrix, reference_rows: IntArray, recent_rows: IntArray, config: DriftConfig
) -> list[FeatureDrift]:
    """PSI per feature, largest first; empty when either window is too small to judge."""
    if min(reference_rows.size, recent_rows.size) < config.min_samples:
        return []
    reference = features.values[reference_rows]
    recent = features.values[recent_rows]
    drifts = [
        FeatureDrift(feature=key, name=name, psi=psi(reference[:, k], recent[:, k], config.bins))
        for k, (key, name) in enumerate(zip(features.keys, features.names, strict=True))
    ]
    drifts.sort(key=lambda d: d.psi, reverse=True)
    return drifts


def drift_report(
    features: FeatureMatrix,
    reference_rows: IntArray,
    recent_rows: IntArray,
    model_squared_errors: FloatArray,
    config: DriftConfig,
) -> DriftReport:
    """Both signals and the status; `model_squared_errors` ordered oldest forecast first."""
    drifts = feature_drift(features, reference_rows, recent_rows, config)
    reasons: list[str] = []
    status: DriftStatus = "ok"
    for d in drifts:
        level = _level(d.psi, config.psi_warn, config.psi_alert)
        if level != "ok":
            reasons.append(f"PSI of {d.feature} is {d.psi:.3f}")
            status = _worse(status, level)
    recent, long_run, degradation = brier_degradation(model_squared_errors, config)
    if degradation is not None:
        level = _level(degradation, config.brier_warn, config.brier_alert)
        if level != "ok":
            reasons.append(f"recent Brier score is {degradation:+.0%} against the long run")
            status = _worse(status, level)
    return DriftReport(
        status=status,
        reasons=reasons,
        reference_samples=int(reference_rows.size),
        recent_samples=int(recent_rows.size),
        psi_max=drifts[0].psi if drifts else None,
        features=drifts,
        brier_recent=recent,
        brier_long_run=long_run,
        brier_degradation=degradation,
    )


def brier_degradation(
    squared_errors: FloatArray, config: DriftConfig
) -> tuple[float | None, float | None, float | None]:
    """(recent Brier, long-run Brier, recent / long-run - 1); None where too few scored."""
    if squared_errors.size < config.min_samples:
        return None, None, None
    long_run = float(np.mean(squared_errors))
    recent = float(np.mean(squared_errors[-config.recent_scored :]))
    if squared_errors.size < 2 * config.recent_scored or long_run == 0.0:
        # The recent window would be most of the long run: comparing it with itself says nothing.
        return recent, long_run, None
    return recent, long_run, recent / long_run - 1.0


def _shares(values: FloatArray, edges: FloatArray) -> FloatArray:
    # side="right": a value equal to a cut goes above it, as np.quantile's deciles expect.
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    shares: FloatArray = np.maximum(counts / values.size, _SHARE_FLOOR)
    return shares


def _level(value: float, warn: float, alert: float) -> DriftStatus:
    if value >= alert:
        return "alert"
    return "warn" if value >= warn else "ok"


def _worse(a: DriftStatus, b: DriftStatus) -> DriftStatus:
    return a if severity(a) >= severity(b) else b
