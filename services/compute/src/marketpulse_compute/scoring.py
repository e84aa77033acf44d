"""Proper scores of probability forecasts, and skill against a reference, no I/O.

- Brier score: mean (p - y)^2; 0 is perfect, 0.25 is a coin flip's.
- Log loss: -mean(y log p + (1 - y) log(1 - p)), p clipped to [1e-15, 1 - 1e-15] so a
  confident miss costs ~34.5 instead of infinity (sklearn's convention).
- Hit rate: share of forecasts whose side of 0.5 matched the move (p > 0.5 calls "up").
- Return MAE: mean |expected return - realised return|.
- Skill vs a reference: 1 - score / score_ref, > 0 when the model is better. The verdict
  also asks whether the Brier difference is more than noise: the paired z of the per-
  forecast differences must pass 1.96 (about 95 % two-sided) either way, its standard error
  allowing for forecasts whose outcome windows overlap (horizon > 1: see paired_z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketpulse_common.events import CalibrationBin, PredictorScores, SkillScore, SkillVerdict

FloatArray = npt.NDArray[np.float64]

LOG_LOSS_EPS = 1e-15
SIGNIFICANT_Z = 1.96
# Below this many scored forecasts a verdict would be a coin toss of its own.
MIN_SCORED = 30


@dataclass(frozen=True, slots=True)
class Predictions:
    """One predictor's probabilities of "up" and expected returns, aligned with outcomes."""

    p_up: FloatArray
    expected_return: FloatArray


@dataclass(frozen=True, slots=True)
class Outcomes:
    up: FloatArray  # 1.0 / 0.0
    realised: FloatArray  # simple returns

    @property
    def size(self) -> int:
        return int(self.up.size)


def squared_errors(p: FloatArray, up: FloatArray) -> FloatArray:
    result: FloatArray = (p - up) ** 2
    return result


def log_losses(p: FloatArray, up: FloatArray) -> FloatArray:
    clipped = np.clip(p, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    result: FloatArray = -(up * np.log(clipped) + (1.0 - up) * np.log1p(-clipped))
    return result


def absolute_errors(expected: FloatArray, realised: FloatArray) -> FloatArray:
    result: FloatArray = np.abs(expected - realised)
    return result


def hits(p: FloatArray, up: FloatArray) -> FloatArray:
    result: FloatArray = ((p > 0.5) == (up == 1.0)).astype(np.float64)
    return result


def predictor_scores(pred: Predictions, out: Outcomes) -> PredictorScores:
    if out.size == 0:
        return PredictorScores(hit_rate=None, brier=None, log_loss=None, return_mae=None)
    return PredictorScores(
        hit_rate=_mean(hits(pred.p_up, out.up)),
        brier=_mean(squared_errors(pred.p_up, out.up)),
        log_loss=_mean(log_losses(pred.p_up, out.up)),
        return_mae=_mean(absolute_errors(pred.expected_return, out.realised)),
    )


def skill_score(
    model: Predictions, reference: Predictions, out: Outcomes, *, overlap: int = 0
) -> SkillScore:
    """The model's skill over `reference` on the same outcomes; `overlap`: see paired_z."""
    if out.size == 0:
        return SkillScore(
            brier_skill=None,
            log_loss_skill=None,
            return_mae_skill=None,
            z=None,
            verdict="insufficient data",
        )
    model_sq = squared_errors(model.p_up, out.up)
    ref_sq = squared_errors(reference.p_up, out.up)
    z = paired_z(ref_sq - model_sq, overlap=overlap)
    return SkillScore(
        brier_skill=_skill(model_sq, ref_sq),
        log_loss_skill=_skill(log_losses(model.p_up, out.up), log_losses(reference.p_up, out.up)),
        return_mae_skill=_skill(
            absolute_errors(model.expected_return, out.realised),
            absolute_errors(reference.expected_return, out.realised),
        ),
        z=z,
        verdict=verdict(out.size, z),
    )


# Per-forecast score differences at or below this are floating-point residue.
ROUNDING = 1e-12


def paired_z(differences: FloatArray, *, overlap: int = 0) -> float | None:
    """mean / standard error of paired differences (in forecast order); None when undefined.

    `overlap`: how many outcome candles each forecast shares with the next (horizon - 1).
    Forecasts over overlapping windows win or lose together, so their differences are
    correlated up to that lag, and the plain standard error would be too small (z inflated
    by about sqrt(horizon): on a random walk, 24-candle forecasts were called better or worse
    than climatology in over half the runs). The error then counts the autocovariances up to
    that lag in full (Hansen-Hodrick, made for overlapping forecasts), or with Bartlett's
    weights (Newey-West) when a short sample makes the former not positive."""
    if differences.size < 2:
        return None
    sd = float(np.std(differences, ddof=1))
    largest = float(np.max(np.abs(differences)))
    # Equal differences leave a rounding residue, not a spread: no standard error then. And
    # the scores compared are of order 0.1, so differences below 1e-12 are rounding too
    # (two equal forecasts computed apart): no evidence either way.
    if largest <= ROUNDING or sd <= 1e-12 * largest:
        return None
    variance = sd * sd + 2.0 * _autocovariances(differences, overlap, bartlett=False)
    if variance <= 0.0:
        variance = sd * sd + 2.0 * _autocovariances(differences, overlap, bartlett=True)
    if variance <= 0.0:
        return None
    return float(np.mean(differences)) / math.sqrt(variance / differences.size)


def _autocovariances(values: FloatArray, lags: int, *, bartlett: bool) -> float:
    """Sum of the autocovariances at lags 1..`lags` (denominator n - 1, as the variance's),
    each weighted 1 - k / (lags + 1) with `bartlett`, which keeps the total variance from
    going negative."""
    lags = min(lags, values.size - 1)
    centred = values - values.mean()
    total = 0.0
    for k in range(1, lags + 1):
        weight = 1.0 - k / (lags + 1) if bartlett else 1.0
        total += weight * float(centred[k:] @ centred[:-k]) / (values.size - 1)
    return total


def verdict(n: int, z: float | None) -> SkillVerdict:
    if n < MIN_SCORED:
        return "insufficient data"
    if z is None:
        return "no better"  # identical forecasts, or identical errors throughout
    if z >= SIGNIFICANT_Z:
        return "beats"
    return "worse" if z <= -SIGNIFICANT_Z else "no better"


def calibration(p: FloatArray, up: FloatArray, bins: int = 10) -> list[CalibrationBin]:
    """Equal-width bins over [0, 1] (1.0 falls in the last): mean forecast vs frequency."""
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    result = []
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        result.append(
            CalibrationBin(
                low=b / bins,
                high=(b + 1) / bins,
                count=count,
                mean_p=_mean(p[members]) if count else None,
                observed=_mean(up[members]) if count else None,
            )
        )
    return result


def _skill(model: FloatArray, reference: FloatArray) -> float | None:
    ref = float(np.mean(reference))
    return None if ref == 0.0 else 1.0 - float(np.mean(model)) / ref


def _mean(values: FloatArray) -> float:
    return float(np.mean(values))
