"""Recorded forecasts + the candles that resolved them → the Evaluation record. No I/O.

A pure function of its inputs, so anyone holding the stored forecasts and the cached
candles can recompute every number (ledger.py says what is read of the forecasts). A
forecast counts once its resolving candle (open time `resolves_at`) is among the candles
given; its outcome is that candle's close against the close of its origin candle.
Forecasts of another horizon, or whose candles are missing, are not scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from marketpulse_common.events import DriftReport, Evaluation, Scorecard, SkillScore
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.drift import DriftConfig, drift_report
from marketpulse_compute.forecaster import ForecastConfig, prepare, training_rows
from marketpulse_compute.ledger import BaselineEntry, Ledger, LedgerEntry, influence_of
from marketpulse_compute.scoring import (
    MIN_SCORED,
    Outcomes,
    Predictions,
    calibration,
    predictor_scores,
    skill_score,
    squared_errors,
)
from marketpulse_compute.window import Columns, describe_columns

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class EvaluationConfig:
    calibration_bins: int = 10
    drift: DriftConfig = field(default_factory=DriftConfig)


@dataclass(frozen=True, slots=True)
class Scored:
    """Every scorable forecast, oldest origin first, as aligned arrays."""

    origin: npt.NDArray[np.int64]
    live: npt.NDArray[np.bool_]
    model: Predictions
    climatology: Predictions
    persistence: Predictions
    outcomes: Outcomes

    def subset(self, mask: npt.NDArray[np.bool_]) -> Scored:
        return Scored(
            origin=self.origin[mask],
            live=self.live[mask],
            model=_take(self.model, mask),
            climatology=_take(self.climatology, mask),
            persistence=_take(self.persistence, mask),
            outcomes=Outcomes(up=self.outcomes.up[mask], realised=self.outcomes.realised[mask]),
        )


def score_forecasts(records: Sequence[LedgerEntry], cols: Columns, horizon: int) -> Scored:
    """Pair each resolvable forecast of `horizon` with its realised return."""
    position = {t: i for i, t in enumerate(cols.open_time.tolist())}
    rows: list[tuple[LedgerEntry, float]] = []
    for record in sorted(records, key=lambda r: r.origin):
        start, end = position.get(record.origin), position.get(record.resolves_at)
        if record.horizon != horizon or start is None or end is None:
            continue
        rows.append((record, float(cols.close[end] / cols.close[start] - 1.0)))
    realised = np.array([r for _, r in rows], dtype=np.float64)
    forecasts = [f for f, _ in rows]
    return Scored(
        origin=np.array([f.origin for f in forecasts], dtype=np.int64),
        live=np.array([f.source == "live" for f in forecasts], dtype=np.bool_),
        model=_predictions([(f.p_up, f.expected_return) for f in forecasts]),
        climatology=_predictions([_pair(f.baselines.climatology) for f in forecasts]),
        persistence=_predictions([_pair(f.baselines.persistence) for f in forecasts]),
        outcomes=Outcomes(up=(realised > 0).astype(np.float64), realised=realised),
    )


def scorecard(scored: Scored, bins: int, horizon: int = 1) -> Scorecard:
    out = scored.outcomes
    # Consecutive forecasts of `horizon` candles share horizon - 1 of their outcome's.
    overlap = horizon - 1
    vs_climatology = skill_score(scored.model, scored.climatology, out, overlap=overlap)
    vs_persistence = skill_score(scored.model, scored.persistence, out, overlap=overlap)
    return Scorecard(
        n=out.size,
        base_rate=float(out.up.mean()) if out.size else None,
        model=predictor_scores(scored.model, out),
        climatology=predictor_scores(scored.climatology, out),
        persistence=predictor_scores(scored.persistence, out),
        vs_climatology=vs_climatology,
        vs_persistence=vs_persistence,
        calibration=calibration(scored.model.p_up, out.up, bins),
        verdict=verdict_text(out.size, vs_climatology, vs_persistence),
    )


def verdict_text(n: int, vs_climatology: SkillScore, vs_persistence: SkillScore) -> str:
    """One plain sentence: does the model beat each baseline on these forecasts?"""
    if n < MIN_SCORED:
        return f"Too few scored forecasts to judge ({n} of the {MIN_SCORED} needed)."
    parts = [
        _against("the base rate", vs_climatology),
        _against("persistence", vs_persistence),
    ]
    return f"On {n} scored forecasts the model {parts[0]}, and {parts[1]}."


def evaluate(
    asset: str,
    tf: Timeframe,
    ledger: Ledger,
    cols: Columns,
    config: ForecastConfig,
    evaluation: EvaluationConfig,
    computed_at: datetime,
) -> Evaluation:
    """The Evaluation of the ledger against `cols` (the history ending at the newest candle).

    Forecasts made after the newest candle are left out, so the result depends only on
    what was known at that candle, whatever else the ledger holds by now.
    """
    as_of = int(cols.open_time[-1])
    records = [r for r in ledger.entries if r.origin <= as_of]
    scored = score_forecasts(records, cols, config.horizon)
    latest = max(records, key=lambda r: r.origin, default=None)
    return Evaluation(
        asset=asset,
        tf=tf,
        horizon=config.horizon,
        as_of=as_of,
        window=describe_columns(tf, cols),
        model_version=None if latest is None else latest.model_version,
        recorded=len(records),
        overall=scorecard(scored, evaluation.calibration_bins, config.horizon),
        live=scorecard(scored.subset(scored.live), evaluation.calibration_bins, config.horizon),
        drift=drift_as_of_last(
            cols, tf, scored, config, evaluation.drift, _influence(ledger, latest)
        ),
        computed_at=computed_at,
    )


def drift_as_of_last(
    cols: Columns,
    tf: Timeframe,
    scored: Scored,
    config: ForecastConfig,
    drift: DriftConfig,
    influence: Mapping[str, float] | None = None,
) -> DriftReport:
    """Drift of the newest candles against what a model fitted at the last candle learned,
    weighing features by `influence` (the newest forecast's coefficients)."""
    history = prepare(cols, tf.seconds, config)
    last = history.size - 1
    usable = np.flatnonzero(history.features.complete_rows())
    return drift_report(
        history.features,
        training_rows(history, last, config),
        usable[-drift.recent_window :],
        squared_errors(scored.model.p_up, scored.outcomes.up),
        drift,
        influence,
    )


def _influence(ledger: Ledger, latest: LedgerEntry | None) -> dict[str, float] | None:
    """The newest forecast's coefficients, only when it is the forecast `latest` records."""
    newest = ledger.newest
    if newest is None or latest is None or newest.origin != latest.origin:
        return None
    return influence_of(newest)


def _against(name: str, skill: SkillScore) -> str:
    bss = (
        f"Brier skill {skill.brier_skill:+.3f}"
        if skill.brier_skill is not None
        else "no Brier skill"
    )
    z = f", z {skill.z:+.1f}" if skill.z is not None else ""
    wording = {
        "beats": "beats",
        "worse": "does worse than",
        "no better": "is no better than",
        "insufficient data": "cannot yet be compared with",
    }[skill.verdict]
    return f"{wording} {name} ({bss}{z})"


def _pair(baseline: BaselineEntry) -> tuple[float, float]:
    return baseline.p_up, baseline.expected_return


def _predictions(pairs: list[tuple[float, float]]) -> Predictions:
    array = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    return Predictions(p_up=array[:, 0], expected_return=array[:, 1])


def _take(pred: Predictions, mask: npt.NDArray[np.bool_]) -> Predictions:
    return Predictions(p_up=pred.p_up[mask], expected_return=pred.expected_return[mask])
