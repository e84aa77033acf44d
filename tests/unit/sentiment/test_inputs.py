"""A provider's input is rounded on the way in, and its hash changes only when it matters."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.inputs import SentimentInput, build_input, input_hash, round_significant
from tests.unit.sentiment.inputs_factory import frame, indicators, ticker

H1, D1 = Timeframe.H1, Timeframe.D1


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (97_123.456, 97_120.0),
        (0.000123456, 0.0001235),
        (-55.5561, -55.56),
        (0.0, 0.0),
        (1.7976931348623157e308, 1.7976931348623157e308),  # rounding up would overflow
        (5e-324, 5e-324),
    ],
)
def test_values_round_to_four_significant_digits(value: float, rounded: float) -> None:
    """Rounding keeps four significant digits, and never turns a huge value into inf."""
    assert round_significant(value) == rounded
    assert math.isfinite(round_significant(value))


def _state(price: float, rsi: float, change: float | None = 1.5) -> SentimentInput:
    values = frame(price, trend=0.01, rsi=rsi, hist=2.0)
    return build_input(
        "bitcoin",
        ticker("bitcoin", price, change),
        {D1: indicators("bitcoin", D1, values), H1: indicators("bitcoin", H1, values)},
    )


def test_build_input_takes_ticker_and_every_timeframe_rounded() -> None:
    """The input carries price, 24 h change and each timeframe's values, rounded."""
    inp = _state(97_123.456, 61.2345)
    assert inp.price == 97_120.0
    assert inp.change_24h_pct == 1.5
    assert list(inp.indicators) == [H1, D1]  # shortest timeframe first
    assert inp.indicators[H1]["rsi_14"] == 61.23


def test_noise_below_the_rounding_keeps_the_hash() -> None:
    """Moves smaller than the fourth significant digit do not count as a change."""
    assert input_hash(_state(97_121.0, 61.231), "heuristic") == input_hash(
        _state(97_122.0, 61.234), "heuristic"
    )


def test_a_material_change_changes_the_hash() -> None:
    """A different RSI, price or 24 h change is a different input."""
    base = input_hash(_state(97_000.0, 61.0), "heuristic")
    assert input_hash(_state(97_000.0, 64.0), "heuristic") != base
    assert input_hash(_state(98_000.0, 61.0), "heuristic") != base
    assert input_hash(_state(97_000.0, 61.0, change=None), "heuristic") != base


def test_the_provider_is_part_of_the_hash() -> None:
    """The same input asked of another provider is not 'unchanged'."""
    inp = _state(97_000.0, 61.0)
    assert input_hash(inp, "heuristic") != input_hash(inp, "anthropic")


def test_a_missing_ticker_leaves_price_unknown() -> None:
    """Without a cached ticker the input has no price and no 24 h change."""
    inp = build_input("bitcoin", None, {})
    assert (inp.price, inp.change_24h_pct, inp.indicators) == (None, None, {})


def test_the_input_rejects_nan() -> None:
    """NaN never enters an input (events reject it too), so it never reaches a provider."""
    with pytest.raises(ValidationError):
        SentimentInput(asset="bitcoin", price=math.nan)
