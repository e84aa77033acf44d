"""Evaluation is a pure function of recorded forecasts and candles, and tells the truth."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import pytest

from marketpulse_common.events import (
    BaselineForecast,
    CandleWindow,
    Forecast,
    ForecastBaselines,
    ForecastExplanation,
    ForecastSource,
    PredictionInterval,
    TrainingWindow,
)
from marketpulse_compute.evaluation import EvaluationConfig, evaluate, score_forecasts
from marketpulse_compute.forecast_record import RecordContext, forecast_record
from marketpulse_compute.forecaster import ForecastConfig, forecastable, prepare, walk_forward
from marketpulse_compute.ledger import Ledger, LedgerEntry
from tests.unit.compute.series import START, TF, columns_from_close, random_walk

NOW = datetime(2024, 1, 1, tzinfo=UTC)
CONFIG = ForecastConfig(train_window=120, min_train=40, l2=10.0)


def record(
    index: int,
    p_up: float,
    *,
    expected: float = 0.0,
    climatology: float = 0.5,
    persistence: float = 0.5,
    source: ForecastSource = "backtest",
    horizon: int = 1,
) -> Forecast:
    """A minimal stored forecast made at candle `index` of a series starting at START."""
    origin = START + index * TF.seconds
    return Forecast(
        asset="bitcoin",
        tf=TF,
        origin=origin,
        horizon=horizon,
        resolves_at=origin + horizon * TF.seconds,
        p_up=p_up,
        expected_return=expected,
        interval=PredictionInterval(level=0.9, low=-0.1, high=0.1),
        volatility=0.01,
        model_version="logit-ridge/1+test",
        explanation=ForecastExplanation(intercept=0.0, logit=0.0, contributions=[]),
        baselines=ForecastBaselines(
            climatology=BaselineForecast(p_up=climatology, expected_return=0.0),
            persistence=BaselineForecast(p_up=persistence, expected_return=0.0),
        ),
        training=TrainingWindow(samples=1, first_origin=0, last_origin=0, base_rate=0.5),
        window=CandleWindow(tf=TF, first_open=0, last_open=origin, count=1, input_hash="x"),
        source=source,
        computed_at=NOW,
    )


def entries(*records: Forecast) -> list[LedgerEntry]:
    return [LedgerEntry.of(r) for r in records]


def closes(*values: float):
    return columns_from_close(np.array(values), np.random.default_rng(0))


def test_each_forecast_is_scored_against_the_candle_that_resolves_it() -> None:
    """Outcome = close at resolves_at / close at origin - 1, oldest forecast first."""
    cols = closes(100.0, 110.0, 99.0, 99.0)
    scored = score_forecasts(entries(record(1, 0.4), record(0, 0.7), record(2, 0.5)), cols, 1)
    np.testing.assert_array_equal(scored.origin, [START + i * TF.seconds for i in range(3)])
    np.testing.assert_allclose(scored.outcomes.realised, [0.1, -0.1, 0.0])
    np.testing.assert_array_equal(scored.outcomes.up, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(scored.model.p_up, [0.7, 0.4, 0.5])


def test_unresolved_and_foreign_forecasts_are_not_scored() -> None:
    """Not yet resolved, from before the candles, or of another horizon: left out."""
    cols = closes(100.0, 110.0, 99.0)
    records = [record(2, 0.6), record(-5, 0.6), record(0, 0.6, horizon=2), record(0, 0.6)]
    scored = score_forecasts(entries(*records), cols, 1)
    assert scored.origin.tolist() == [START]


def test_scores_by_hand_for_the_model_and_both_baselines() -> None:
    """Brier of each predictor over three resolved forecasts, and the base rate."""
    cols = closes(100.0, 110.0, 99.0, 99.0)
    records = [
        record(0, 0.7, climatology=0.5, persistence=0.6),
        record(1, 0.4, climatology=0.5, persistence=0.6),
        record(2, 0.5, climatology=0.5, persistence=0.4),
    ]
    evaluation = evaluate("bitcoin", TF, Ledger.of(records), cols, CONFIG, EvaluationConfig(), NOW)
    overall = evaluation.overall
    assert overall.n == 3
    assert overall.base_rate == pytest.approx(1 / 3)
    assert overall.model.brier == pytest.approx((0.09 + 0.16 + 0.25) / 3)
    assert overall.climatology.brier == pytest.approx(0.25)
    assert overall.persistence.brier == pytest.approx((0.16 + 0.36 + 0.16) / 3)
    assert overall.vs_climatology.brier_skill == pytest.approx(1 - (0.5 / 3) / 0.25)
    assert overall.vs_climatology.verdict == "insufficient data"
    assert overall.verdict.startswith("Too few scored forecasts")
    assert evaluation.as_of == START + 3 * TF.seconds
    assert evaluation.recorded == 3


def test_live_forecasts_get_their_own_scorecard() -> None:
    """`live` scores only forecasts made as their candle closed; `overall` scores all."""
    cols = closes(100.0, 110.0, 99.0, 99.0)
    records = [record(0, 0.7), record(1, 0.4, source="live"), record(2, 0.5, source="live")]
    evaluation = evaluate("bitcoin", TF, Ledger.of(records), cols, CONFIG, EvaluationConfig(), NOW)
    assert (evaluation.overall.n, evaluation.live.n) == (3, 2)
    assert evaluation.live.model.brier == pytest.approx((0.16 + 0.25) / 2)


def test_forecasts_made_after_the_newest_candle_are_ignored() -> None:
    """The evaluation as of candle t depends on nothing recorded after t."""
    cols = closes(100.0, 110.0, 99.0)
    records = [record(0, 0.7), record(1, 0.4)]
    later = [*records, record(5, 0.9), record(6, 0.1)]
    first = evaluate("bitcoin", TF, Ledger.of(records), cols, CONFIG, EvaluationConfig(), NOW)
    second = evaluate("bitcoin", TF, Ledger.of(later), cols, CONFIG, EvaluationConfig(), NOW)
    assert first == second
    assert first.recorded == 2


def test_the_same_inputs_give_the_same_evaluation_in_any_order() -> None:
    """Reproducible: shuffling the records changes nothing."""
    cols = random_walk(300, seed=3)
    records = backtest_records(cols, CONFIG)
    shuffled = random.Random(1).sample(records, len(records))
    a = evaluate("bitcoin", TF, Ledger.of(records), cols, CONFIG, EvaluationConfig(), NOW)
    b = evaluate("bitcoin", TF, Ledger.of(shuffled), cols, CONFIG, EvaluationConfig(), NOW)
    assert a == b
    assert a.overall.n == len(records) - 1  # the newest is not resolved yet


def test_a_market_with_momentum_is_beaten_and_a_random_walk_is_not() -> None:
    """Where the last 12 returns carry the next one the model beats both baselines (the last
    move alone, persistence's signal, says little); on a random walk it does not."""
    rng = np.random.default_rng(12)
    shocks = rng.normal(0.0, 0.01, 900)
    returns = np.zeros(900)
    for i in range(12, 900):
        returns[i] = 0.08 * returns[i - 12 : i].sum() + shocks[i]
    momentum = columns_from_close(100.0 * np.exp(np.cumsum(returns)), rng)
    config = ForecastConfig(train_window=300, min_train=100, l2=10.0, refit_every=24)
    report = evaluate(
        "bitcoin",
        TF,
        Ledger.of(backtest_records(momentum, config)),
        momentum,
        config,
        EvaluationConfig(),
        NOW,
    ).overall
    assert report.vs_climatology.verdict == "beats"
    assert report.vs_persistence.verdict == "beats"
    assert "beats the base rate" in report.verdict
    noise = random_walk(900, seed=12)
    honest = evaluate(
        "bitcoin",
        TF,
        Ledger.of(backtest_records(noise, config)),
        noise,
        config,
        EvaluationConfig(),
        NOW,
    ).overall
    assert honest.vs_climatology.verdict != "beats"


def backtest_records(cols, config: ForecastConfig) -> list[Forecast]:
    history = prepare(cols, TF.seconds, config)
    origins = np.flatnonzero(forecastable(history, config)).tolist()
    context = RecordContext("bitcoin", TF, config, "v", NOW)
    return [
        forecast_record(history, p, context, "backtest")
        for p in walk_forward(history, origins, config)
    ]
