"""Hand-built indicator values for the sentiment tests, named as compute names them."""

from __future__ import annotations

from datetime import UTC, datetime

from marketpulse_common.events import (
    BaselineForecast,
    CandleWindow,
    DriftReport,
    DriftStatus,
    Evaluation,
    FeatureContribution,
    Forecast,
    ForecastBaselines,
    ForecastExplanation,
    Indicators,
    PredictionInterval,
    PredictorScores,
    Scorecard,
    SkillScore,
    SkillVerdict,
    Ticker,
    TrainingWindow,
)
from marketpulse_common.timeframes import Timeframe

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def frame(
    price: float,
    *,
    trend: float,
    rsi: float,
    hist: float,
    volatility: float = 0.004,
) -> dict[str, float | None]:
    """Indicator values with EMAs `trend` apart (fast above slow for trend > 0)."""
    return {
        "ema_12": price * (1 - trend),
        "ema_26": price * (1 - 2 * trend),
        "ema_50": price * (1 - 3 * trend),
        "rsi_14": rsi,
        "macd": price * trend,
        "macd_signal": price * trend - hist,
        "macd_hist": hist,
        "bb_upper": price * 1.02,
        "bb_middle": price,
        "bb_lower": price * 0.98,
        "atr_14": price * 0.01,
        "volatility_20": volatility,
    }


def indicators(
    asset: str, tf: Timeframe, values: dict[str, float | None], *, window: int = 99
) -> Indicators:
    """Indicators over `window + 1` candles whose last opened at `window` × tf."""
    return Indicators(
        asset=asset,
        tf=tf,
        window=CandleWindow(
            tf=tf, first_open=0, last_open=tf.seconds * window, count=window + 1, input_hash="h"
        ),
        params={"rsi_period": 14.0},
        lookback={"rsi_14": 14},
        values=values,
        computed_at=NOW,
    )


def ticker(asset: str, price: float, change_24h_pct: float | None) -> Ticker:
    return Ticker(
        asset=asset,
        vs_currency="usd",
        price=price,
        change_24h_pct=change_24h_pct,
        last_updated=NOW,
    )


def window(tf: Timeframe, last: int = 99) -> CandleWindow:
    return CandleWindow(
        tf=tf, first_open=0, last_open=tf.seconds * last, count=last + 1, input_hash="h"
    )


def forecast(asset: str, tf: Timeframe, p_up: float, *, origin: int = 99) -> Forecast:
    """A forecast of the next candle with three features pushing it."""
    pushes = [("ema_50_gap", "Price vs EMA(50)", 0.4), ("rsi_14", "RSI(14)", -0.1),
              ("macd_hist", "MACD histogram", 0.05), ("vol", "Volatility", 0.01)]  # fmt: skip
    baseline = BaselineForecast(p_up=0.5, expected_return=0.0)
    return Forecast(
        asset=asset,
        tf=tf,
        origin=origin * tf.seconds,
        horizon=1,
        resolves_at=(origin + 1) * tf.seconds,
        p_up=p_up,
        expected_return=(p_up - 0.5) / 50,
        interval=PredictionInterval(level=0.9, low=-0.02, high=0.021),
        volatility=0.01,
        model_version="logit-ridge/1",
        explanation=ForecastExplanation(
            intercept=0.0,
            logit=0.34,
            contributions=[
                FeatureContribution(
                    feature=key, name=name, value=1.0, z=1.0, coefficient=c, contribution=c
                )
                for key, name, c in pushes
            ],
        ),
        baselines=ForecastBaselines(climatology=baseline, persistence=baseline),
        training=TrainingWindow(samples=300, first_origin=0, last_origin=origin, base_rate=0.52),
        window=window(tf, origin),
        source="live",
        computed_at=NOW,
    )


def _scores() -> PredictorScores:
    return PredictorScores(hit_rate=0.56, brier=0.24, log_loss=0.68, return_mae=0.01)


def _skill(verdict: SkillVerdict) -> SkillScore:
    return SkillScore(
        brier_skill=0.02, log_loss_skill=0.01, return_mae_skill=0.0, z=2.1, verdict=verdict
    )


def _scorecard(verdict: SkillVerdict) -> Scorecard:
    return Scorecard(
        n=240,
        base_rate=0.52,
        model=_scores(),
        climatology=_scores(),
        persistence=_scores(),
        vs_climatology=_skill(verdict),
        vs_persistence=_skill(verdict),
        calibration=[],
        verdict=verdict,
    )


def evaluation(
    asset: str, tf: Timeframe, verdict: SkillVerdict = "beats", drift: DriftStatus = "ok"
) -> Evaluation:
    return Evaluation(
        asset=asset,
        tf=tf,
        horizon=1,
        as_of=99 * tf.seconds,
        window=window(tf),
        model_version="logit-ridge/1",
        recorded=240,
        overall=_scorecard(verdict),
        live=_scorecard(verdict),
        drift=DriftReport(
            status=drift,
            reasons=[],
            reference_samples=200,
            recent_samples=40,
            psi_max=0.05,
            features=[],
            brier_recent=0.24,
            brier_long_run=0.24,
            brier_degradation=0.0,
        ),
        computed_at=NOW,
    )
