"""What a provider sees of compute's forecast and evaluation for one timeframe.

A Forecast carries far more than a reading needs (training window, baselines, every feature's
z-score). The view keeps what a person would weigh: the probability of an up move, the
expected move and its interval, the features that pushed hardest, and how much the
forecaster deserves to be trusted, i.e. whether its recorded forecasts beat the base rate.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from marketpulse_common.events import DriftStatus, Evaluation, Forecast, SkillVerdict

# The three strongest pushes explain a forecast; the long tail is noise to a reader.
TOP_FEATURES = 3
# Probabilities to the percent: a forecaster moving from 0.553 to 0.556 has said nothing new.
PROBABILITY_DECIMALS = 2
RETURN_DECIMALS = 4  # a hundredth of a percent


class ForecastView(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    horizon: int
    p_up: float
    expected_return: float
    interval_level: float
    interval_low: float
    interval_high: float
    pushes: dict[str, float] = {}  # feature name → contribution to the logit
    skill: SkillVerdict | None = None  # vs the base rate, over every scored forecast
    hit_rate: float | None = None
    scored: int | None = None
    drift: DriftStatus | None = None


def _evaluated(view: dict[str, object], evaluation: Evaluation | None) -> dict[str, object]:
    if evaluation is None:
        return view
    overall = evaluation.overall
    hit = overall.model.hit_rate
    return view | {
        "skill": overall.vs_climatology.verdict,
        "hit_rate": None if hit is None else round(hit, PROBABILITY_DECIMALS),
        "scored": overall.n,
        "drift": evaluation.drift.status,
    }


def view_forecast(forecast: Forecast, evaluation: Evaluation | None) -> ForecastView:
    """The rounded view of `forecast`, with `evaluation`'s verdict when there is one."""
    top = sorted(
        forecast.explanation.contributions, key=lambda c: abs(c.contribution), reverse=True
    )[:TOP_FEATURES]
    view: dict[str, object] = {
        "horizon": forecast.horizon,
        "p_up": round(forecast.p_up, PROBABILITY_DECIMALS),
        "expected_return": round(forecast.expected_return, RETURN_DECIMALS),
        "interval_level": forecast.interval.level,
        "interval_low": round(forecast.interval.low, RETURN_DECIMALS),
        "interval_high": round(forecast.interval.high, RETURN_DECIMALS),
        "pushes": {c.name: round(c.contribution, 2) for c in top},
    }
    return ForecastView.model_validate(_evaluated(view, evaluation))
