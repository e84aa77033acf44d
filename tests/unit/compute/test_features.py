"""Features are backward-looking, scale-free numbers derived from the cached candles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marketpulse_compute import indicators as ind
from marketpulse_compute.features import (
    FeatureParams,
    build_features,
    feature_keys,
    in_volatilities,
    log_ratio,
    log_return,
    volume_zscore,
)
from marketpulse_compute.window import Columns, columns_head
from tests.unit.compute.series import columns_from_close, random_walk, with_new_future

PARAMS = FeatureParams()


def test_the_matrix_has_one_row_per_candle_and_one_column_per_feature() -> None:
    """Keys, names, memories and columns line up; the key list matches feature_keys()."""
    cols = random_walk(120)
    features = build_features(cols)
    assert features.values.shape == (120, len(features.keys))
    assert len(features.names) == len(features.memory) == len(features.keys)
    assert list(features.keys) == feature_keys(PARAMS, with_volume=True)
    assert "volume_z" in features.keys


def test_without_volume_there_is_no_volume_feature() -> None:
    """A history without volume drops the volume z-score and keeps the rest."""
    features = build_features(random_walk(120, volume=False))
    assert "volume_z" not in features.keys
    assert list(features.keys) == feature_keys(PARAMS, with_volume=False)


def test_rows_become_complete_after_the_longest_lookback() -> None:
    """The 50-candle volatility and ATR are the longest lookbacks: the first complete row is
    index 50."""
    features = build_features(random_walk(120))
    complete = features.complete_rows()
    assert not complete[:50].any()
    assert complete[50:].all()


def test_a_row_depends_only_on_candles_up_to_it() -> None:
    """Replacing every candle after k leaves rows 0..k bit-for-bit unchanged."""
    cols = random_walk(200, seed=5)
    k = 140
    before = build_features(cols).values[: k + 1]
    after = build_features(with_new_future(cols, k, seed=99)).values[: k + 1]
    np.testing.assert_array_equal(before, after)
    prefix = build_features(columns_head(cols, k + 1)).values
    np.testing.assert_array_equal(before, prefix)


def test_values_follow_their_definitions() -> None:
    """Spot checks at the last row: moves in units of the 50-candle realised volatility,
    RSI - 50, %b, and short-over-long volatility as log ratios."""
    cols = random_walk(150, seed=3)
    features = build_features(cols)
    last = dict(zip(features.keys, features.values[-1], strict=True))
    c, h, lo = cols.close, cols.high, cols.low
    scale = ind.realized_volatility(c, 50)[-1]
    assert math.isclose(last["ret_1"], math.log(c[-1] / c[-2]) / scale)
    assert math.isclose(last["ret_12"], math.log(c[-1] / c[-13]) / (scale * math.sqrt(12)))
    assert math.isclose(last["rsi_14"], ind.rsi(c, 14)[-1] - 50)
    assert math.isclose(last["ema_50_gap"], (c[-1] / ind.ema(c, 50)[-1] - 1) / scale)
    macd = ind.macd(c, 12, 26, 9).hist[-1]
    assert math.isclose(last["macd_hist"], macd / c[-1] / scale)
    atr = ind.atr(h, lo, c, 14)[-1] / ind.atr(h, lo, c, 50)[-1]
    assert math.isclose(last["atr_14_50"], math.log(atr))
    volatility = ind.realized_volatility(c, 20)[-1] / scale
    assert math.isclose(last["volatility_20_50"], math.log(volatility))
    bands = ind.bollinger(c, 20, 2.0)
    expected_b = (c[-1] - bands.lower[-1]) / (bands.upper[-1] - bands.lower[-1])
    assert math.isclose(last["bb_pct_b"], expected_b)


def test_moves_in_volatilities_ignore_the_level_of_volatility() -> None:
    """Returns and the volatility ratio are scale-free: a calm and a wild version of one
    path give the same values, so volatility clusters do not move the feature distribution."""
    shocks = np.random.default_rng(4).normal(0.0, 0.01, 200)
    calm = features_of(100.0 * np.exp(np.cumsum(shocks)))
    wild = features_of(100.0 * np.exp(np.cumsum(4.0 * shocks)))
    for key in ("ret_1", "ret_3", "ret_12", "volatility_20_50"):
        k = calm.keys.index(key)
        np.testing.assert_allclose(wild.values[50:, k], calm.values[50:, k], rtol=1e-9, atol=1e-12)


def features_of(close: np.ndarray):
    return build_features(columns_from_close(close, np.random.default_rng(0)))


def test_every_feature_declares_its_memory_from_its_period() -> None:
    """n for an n-candle return or EMA gap, 2n for Wilder smoothing, the window otherwise."""
    features = build_features(random_walk(120))
    memory = dict(zip(features.keys, features.memory, strict=True))
    assert memory["ret_1"] == 1 and memory["ret_12"] == 12
    assert memory["ema_12_gap"] == 12 and memory["ema_50_gap"] == 50
    assert memory["rsi_14"] == 28 and memory["atr_14_50"] == 28
    assert memory["volatility_20_50"] == 20
    assert memory["macd_hist"] == 9
    assert memory["bb_pct_b"] == 15
    assert memory["volume_z"] == 1


def test_a_market_that_stops_moving_gives_zeros_not_gaps() -> None:
    """No volatility: moves in volatilities are 0 and ratios 0 (as usual); unknown stays NaN."""
    moves = in_volatilities(np.array([np.nan, 0.0, 0.02]), np.array([0.01, 0.0, 0.01]))
    np.testing.assert_array_equal(moves, [np.nan, 0.0, 2.0])
    ratios = log_ratio(np.array([np.nan, 0.0, 0.0, 0.02]), np.array([0.01, 0.0, 0.01, 0.01]))
    assert np.isnan(ratios[0])
    assert ratios[1] == 0.0
    assert ratios[2] == math.log(1e-3)  # floored: quieter than anything a ratio can say
    assert math.isclose(ratios[3], math.log(2.0))


def test_log_return_over_a_span() -> None:
    """log(c[j] / c[j - span]) with NaN for the first `span` rows."""
    close = np.array([100.0, 110.0, 121.0, 133.1])
    out = log_return(close, 2)
    assert np.isnan(out[:2]).all()
    np.testing.assert_allclose(out[2:], [math.log(1.21), math.log(1.21)])


@pytest.mark.parametrize("volume", [5.0, 0.1, 3.3, 1234.567, 12345.678901])
def test_volume_zscore_of_any_flat_window_is_exactly_zero(volume: float) -> None:
    """A raw mean of equal floats need not round back to that float: the z of a flat window
    was then ±1 (rounding noise over rounding noise), read by the model as a volume signal."""
    assert (volume_zscore(np.full(30, volume), 20)[19:] == 0.0).all()


def test_volume_zscore_of_a_flat_window_is_zero_and_a_spike_is_positive() -> None:
    """Flat volume scores 0 (not NaN); a spike at the end scores well above 0."""
    flat = volume_zscore(np.full(10, 5.0), 5)
    assert np.isnan(flat[:4]).all()
    assert (flat[4:] == 0.0).all()
    spiked = volume_zscore(np.array([5.0, 5.0, 5.0, 5.0, 500.0]), 5)
    expected = np.log1p(np.array([5.0, 5.0, 5.0, 5.0, 500.0]))
    z = (expected[-1] - expected.mean()) / expected.std()
    assert math.isclose(spiked[-1], z)
    assert spiked[-1] > 1.5


def test_percent_b_is_one_half_when_the_bands_close() -> None:
    """A flat market has zero band width: %b is 0.5, not a division by zero."""
    cols = random_walk(80)
    flat: Columns = cols._replace(
        close=np.full(80, 50.0),
        open=np.full(80, 50.0),
        high=np.full(80, 50.0),
        low=np.full(80, 50.0),
    )
    features = build_features(flat)
    k = features.keys.index("bb_pct_b")
    assert (features.values[19:, k] == 0.5).all()
