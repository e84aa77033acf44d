"""Compute's forecast and its track record enter the input and the rule-based reading."""

from __future__ import annotations

import pytest

from marketpulse_common.events import DriftStatus, SkillVerdict
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.forecast_view import view_forecast
from marketpulse_sentiment.heuristic import assess, forecast_lean_of, read
from marketpulse_sentiment.inputs import SentimentInput, build_input, input_hash
from tests.unit.sentiment.inputs_factory import (
    NOW,
    evaluation,
    forecast,
    frame,
    indicators,
    ticker,
)

H1, D1 = Timeframe.H1, Timeframe.D1


def test_the_view_keeps_what_a_reader_weighs() -> None:
    """P(up), expected move, interval, the three strongest pushes, and the track record."""
    view = view_forecast(forecast("bitcoin", H1, 0.6137), evaluation("bitcoin", H1, "beats"))
    assert view.p_up == 0.61
    assert list(view.pushes) == ["Price vs EMA(50)", "RSI(14)", "MACD histogram"]
    assert (view.skill, view.hit_rate, view.scored, view.drift) == ("beats", 0.56, 240, "ok")


def test_a_forecast_without_evaluation_is_unproven() -> None:
    """No evaluation yet: the view has no verdict."""
    view = view_forecast(forecast("bitcoin", H1, 0.6), None)
    assert view.skill is None and view.scored is None


def test_the_input_carries_forecasts_per_timeframe() -> None:
    """Forecasts and their evaluations join the input; a new forecast changes its hash."""
    values = {H1: indicators("bitcoin", H1, frame(100.0, trend=0.01, rsi=60, hist=1))}
    tick = ticker("bitcoin", 100.0, 1.0)
    without = build_input("bitcoin", tick, values)
    with_fc = build_input(
        "bitcoin", tick, values, {H1: forecast("bitcoin", H1, 0.6)}, {H1: evaluation("bitcoin", H1)}
    )
    moved = build_input("bitcoin", tick, values, {H1: forecast("bitcoin", H1, 0.4)})
    assert with_fc.forecasts[H1].skill == "beats"
    hashes = {input_hash(i, "heuristic") for i in (without, with_fc, moved)}
    assert len(hashes) == 3


def test_forecast_noise_below_a_percent_keeps_the_hash() -> None:
    """P(up) 0.601 and 0.604 are the same forecast to a reader."""
    values = {H1: indicators("bitcoin", H1, frame(100.0, trend=0.01, rsi=60, hist=1))}
    base = forecast("bitcoin", H1, 0.601)
    a = build_input("bitcoin", None, values, {H1: base})
    b = build_input("bitcoin", None, values, {H1: base.model_copy(update={"p_up": 0.604})})
    assert input_hash(a, "heuristic") == input_hash(b, "heuristic")


@pytest.mark.parametrize(
    ("verdict", "drift", "lean"),
    [
        ("beats", "ok", 0.76),
        ("no better", "ok", 0.38),
        ("insufficient data", "warn", 0.38),
        ("beats", "alert", 0.38),
        ("worse", "ok", None),
    ],
)
def test_the_forecast_counts_as_far_as_its_record_earns(
    verdict: SkillVerdict, drift: DriftStatus, lean: float | None
) -> None:
    """P(up) 0.6 leans +0.76 when it beats the base rate, half unproven or drifting, 0 worse."""
    view = view_forecast(forecast("bitcoin", H1, 0.6), evaluation("bitcoin", H1, verdict, drift))
    got = forecast_lean_of(view)
    assert got == (None if lean is None else pytest.approx(lean, abs=0.01))


def _market(p_up: float, verdict: SkillVerdict) -> SentimentInput:
    values = {H1: indicators("bitcoin", H1, frame(100.0, trend=0.0, rsi=50, hist=0.0))}
    fc = {H1: forecast("bitcoin", H1, p_up), D1: forecast("bitcoin", D1, p_up)}
    ev = {H1: evaluation("bitcoin", H1, verdict), D1: evaluation("bitcoin", D1, verdict)}
    return build_input("bitcoin", ticker("bitcoin", 100.0, 0.0), values, fc, ev)


def test_a_trusted_forecast_moves_a_flat_reading_and_is_named() -> None:
    """On a flat market a proven bullish forecast raises the score and appears in the drivers."""
    flat = read(_market(0.5, "beats"))
    bullish = assess(_market(0.7, "beats"), input_hash="h", now=NOW)
    assert bullish.score > flat.score
    driver = next(d for d in bullish.drivers if d.startswith("Forecast"))
    assert "70% on 1h (beats the base rate)" in driver and "70% on 1d" in driver
    assert "forecast leans up" in bullish.summary


def test_a_forecaster_worse_than_the_base_rate_is_ignored() -> None:
    """A forecaster that does worse than the base rate does not move the score."""
    ignored = read(_market(0.9, "worse"))
    assert ignored.forecast is None
    assert ignored.score == read(_market(0.5, "worse")).score
