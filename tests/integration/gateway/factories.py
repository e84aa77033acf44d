"""Valid forecast and evaluation values for the gateway tests (the gateway serves them as is)."""

from __future__ import annotations

from datetime import UTC, datetime

from marketpulse_common.events import (
    BaselineForecast,
    CandleWindow,
    DriftReport,
    Evaluation,
    Forecast,
    ForecastBaselines,
    ForecastExplanation,
    PredictionInterval,
    PredictorScores,
    Scorecard,
    SkillScore,
    TrainingWindow,
)
from marketpulse_common.timeframes import Timeframe


def _window(tf: Timeframe) -> CandleWindow:
    return CandleWindow(tf=tf, first_open=0, last_open=99 * tf.seconds, count=100, input_hash="h")


def forecast(asset: str, tf: Timeframe, p_up: float = 0.6) -> Forecast:
    baseline = BaselineForecast(p_up=0.5, expected_return=0.0)
    return Forecast(
        asset=asset,
        tf=tf,
        origin=99 * tf.seconds,
        horizon=1,
        resolves_at=100 * tf.seconds,
        p_up=p_up,
        expected_return=0.001,
        interval=PredictionInterval(level=0.9, low=-0.02, high=0.02),
        volatility=0.01,
        model_version="logit-ridge/1",
        explanation=ForecastExplanation(intercept=0.0, logit=0.4, contributions=[]),
        baselines=ForecastBaselines(climatology=baseline, persistence=baseline),
        training=TrainingWindow(samples=300, first_origin=0, last_origin=98, base_rate=0.5),
        window=_window(tf),
        source="live",
        computed_at=datetime.now(UTC),
    )


def _scorecard() -> Scorecard:
    scores = PredictorScores(hit_rate=0.55, brier=0.24, log_loss=0.68, return_mae=0.01)
    skill = SkillScore(
        brier_skill=0.02, log_loss_skill=0.01, return_mae_skill=0.0, z=2.0, verdict="beats"
    )
    return Scorecard(
        n=200,
        base_rate=0.5,
        model=scores,
        climatology=scores,
        persistence=scores,
        vs_climatology=skill,
        vs_persistence=skill,
        calibration=[],
        verdict="beats",
    )


def evaluation(asset: str, tf: Timeframe, recorded: int = 200) -> Evaluation:
    return Evaluation(
        asset=asset,
        tf=tf,
        horizon=1,
        as_of=99 * tf.seconds,
        window=_window(tf),
        model_version="logit-ridge/1",
        recorded=recorded,
        overall=_scorecard(),
        live=_scorecard(),
        drift=DriftReport(
            status="ok",
            reasons=[],
            reference_samples=150,
            recent_samples=50,
            psi_max=0.01,
            features=[],
            brier_recent=0.24,
            brier_long_run=0.24,
            brier_degradation=0.0,
        ),
        computed_at=datetime.now(UTC),
    )
