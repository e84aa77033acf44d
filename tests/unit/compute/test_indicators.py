"""Batch indicators equal TA-Lib's definitions, as spelled out bar by bar in reference.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketpulse_compute import indicators as ind
from marketpulse_compute.indicator_set import (
    IndicatorParams,
    compute_indicator_series,
    compute_indicator_set,
)

from . import reference as ref

DETERMINISTIC = settings(max_examples=120, derandomize=True, database=None, deadline=None)
SEEDS = (1, 7, 42)
# 0 and 1 are degenerate; 10, 20, 33 sit inside or on the edge of the longer lookbacks
# (ema_50: 49, macd: 33, volatility: 20); 34 is MACD's first value; 257 spans several
# recurrence blocks; 5000 exercises the nested block recursion.
LENGTHS = (0, 1, 10, 20, 33, 34, 60, 257, 5000)


def _batch(bars: ref.Bars) -> dict[str, np.ndarray]:
    return compute_indicator_series(bars.high, bars.low, bars.close, bars.volume, IndicatorParams())


def _assert_matches_reference(bars: ref.Bars) -> None:
    expected = ref.ref_indicator_series(bars.high, bars.low, bars.close, bars.volume)
    actual = _batch(bars)
    assert list(actual) == list(expected)
    scales = ref.input_scales(bars)
    for name, values in actual.items():
        ref.assert_series_close(values.tolist(), expected[name], scales[name], name)


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("seed", SEEDS)
def test_random_walk_matches_reference(seed: int, length: int) -> None:
    """Every indicator of the set equals the reference on random walks of any length."""
    _assert_matches_reference(ref.random_walk(seed, length))


@pytest.mark.parametrize("length", LENGTHS)
def test_leading_nans_equal_lookback(length: int) -> None:
    """Each series has exactly `lookback` leading NaNs, or is all NaN when shorter."""
    bars = ref.random_walk(3, length)
    lookback = compute_indicator_set(
        bars.open, bars.high, bars.low, bars.close, bars.volume
    ).lookback
    for name, values in _batch(bars).items():
        assert ref.leading_nans(values.tolist()) == min(lookback[name], length), name
        assert not np.isnan(values[lookback[name] :]).any(), name


@pytest.mark.parametrize("seed", SEEDS)
def test_real_shaped_series_matches_reference(seed: int) -> None:
    """Vol clustering, untraded bars and flat stretches change nothing about agreement."""
    _assert_matches_reference(ref.real_shaped(seed))


def test_real_shaped_series_hits_the_edge_cases() -> None:
    """The real-shaped series really contains RSI 0, flat bands and volume-less windows."""
    series = _batch(ref.real_shaped(1))
    assert (series["rsi_14"][14:40] == 0.0).all()
    assert np.isnan(series["vwap_20"][19:40]).all()
    assert (series["volatility_20"] == 0.0).any()


def test_constant_series_has_rsi_zero() -> None:
    """RSI is 0, not NaN, when prices never moved (TA-Lib's convention)."""
    out = ind.rsi([5.0] * 20, 14)
    assert np.isnan(out[:14]).all()
    assert (out[14:] == 0.0).all()


def test_rsi_by_hand() -> None:
    """RSI(2) of 10, 11, 10, 12: seed 50 at bar 2, then Wilder-smoothed gains give 83.3."""
    out = ind.rsi([10.0, 11.0, 10.0, 12.0], 2)
    # bar 3: gain (0.5 * 1 + 2) / 2 = 1.25, loss (0.5 * 1 + 0) / 2 = 0.25
    np.testing.assert_allclose(out, [math.nan, math.nan, 50.0, 100 * 1.25 / 1.5])


def test_rsi_flat_start_then_move() -> None:
    """After a flat seed (RSI 0) the first rise gives RSI 100: no loss ever recorded."""
    out = ind.rsi([1.0, 1.0, 1.0, 1.0, 2.0], 3)
    np.testing.assert_allclose(out, [math.nan, math.nan, math.nan, 0.0, 100.0])


def test_macd_seeds_fast_ema_on_slow_seed_bar() -> None:
    """The fast EMA is seeded over the `fast` values ending at bar slow-1, as TA-Lib does."""
    lines = ind.macd([8.0, 0.0, 2.0, 4.0, 6.0, 5.0], fast=2, slow=4, signal=2)
    # fast seed mean(2, 4) = 3 and slow seed mean(8, 0, 2, 4) = 3.5 at bar 3, so the raw
    # line is -0.5, 0.5, 0.3; a fast seed over mean(8, 0) would give 0.056 at bar 3.
    # Signal seed at bar 4: mean(-0.5, 0.5) = 0; bar 5: 0 + (0.3 - 0) * 2/3 = 0.2.
    nan = math.nan
    np.testing.assert_allclose(lines.macd, [nan, nan, nan, nan, 0.5, 0.3])
    np.testing.assert_allclose(lines.signal, [nan, nan, nan, nan, 0.0, 0.2], atol=1e-15)
    np.testing.assert_allclose(lines.hist, [nan, nan, nan, nan, 0.5, 0.1])


def test_macd_default_lookback_is_33_for_all_lines() -> None:
    """With 12/26/9 the first macd, signal and hist values all appear at bar 33."""
    lines = ind.macd(np.linspace(1.0, 2.0, 40))
    assert ind.macd_lookback(12, 26, 9) == 33
    for line in lines:
        assert ref.leading_nans(line.tolist()) == 33


def test_macd_swaps_fast_and_slow_like_talib() -> None:
    """A fast period longer than the slow one is swapped rather than rejected."""
    closes = ref.random_walk(5, 80).close
    swapped_lines, normal_lines = ind.macd(closes, 26, 12, 9), ind.macd(closes, 12, 26, 9)
    for swapped, normal in zip(swapped_lines, normal_lines, strict=True):
        np.testing.assert_array_equal(swapped, normal)


def test_bollinger_by_hand() -> None:
    """Bands are the mean ± k population deviations: 1..4 gives 2.5 ± 2 * sqrt(1.25)."""
    bands = ind.bollinger([1.0, 2.0, 3.0, 4.0], 4, 2.0)
    width = 2.0 * math.sqrt(1.25)
    assert bands.middle[-1] == 2.5
    assert bands.upper[-1] == pytest.approx(2.5 + width, rel=1e-15)
    assert bands.lower[-1] == pytest.approx(2.5 - width, rel=1e-15)


def test_atr_by_hand() -> None:
    """ATR(2): the mean of TR_1, TR_2 at bar 2, then Wilder smoothing with the next TR."""
    high, low, close = [10.0, 12.0, 11.0, 15.0], [9.0, 10.0, 8.0, 13.0], [9.5, 11.0, 9.0, 14.0]
    # TR_1 = max(2, 2.5, 0.5) = 2.5; TR_2 = max(3, 0, 3) = 3; TR_3 = max(2, 6, 4) = 6
    np.testing.assert_allclose(
        ind.atr(high, low, close, 2), [math.nan, math.nan, 2.75, (2.75 + 6.0) / 2]
    )


def test_obv_starts_from_first_volume() -> None:
    """OBV starts at the first bar's volume and ignores unchanged closes."""
    np.testing.assert_array_equal(
        ind.obv([1.0, 2.0, 2.0, 1.0], [10.0, 20.0, 30.0, 40.0]), [10.0, 30.0, 30.0, -10.0]
    )


def test_vwap_is_nan_without_volume() -> None:
    """A window that traded nothing has no VWAP; one trade fixes it to that bar's price."""
    high, low, close = [3.0, 6.0, 9.0], [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    out = ind.rolling_vwap(high, low, close, [0.0, 0.0, 5.0], 2)
    np.testing.assert_array_equal(out, [math.nan, math.nan, 6.0])


def test_volatility_by_hand() -> None:
    """Log returns +1 and -1 have a sample deviation of sqrt(2); a flat window gives 0."""
    out = ind.realized_volatility([1.0, math.e, 1.0, 1.0, 1.0], 2)
    np.testing.assert_allclose(out, [math.nan, math.nan, math.sqrt(2.0), 1.0 / math.sqrt(2), 0.0])


def test_volatility_is_nan_across_a_non_positive_close() -> None:
    """A window touching a non-positive close has no log return, so it is NaN."""
    out = ind.realized_volatility([1.0, 2.0, 0.0, 2.0, 3.0, 4.0, 5.0], 2)
    assert np.isnan(out[:5]).all()
    assert np.isfinite(out[5:]).all()


def test_long_ema_matches_reference_across_block_levels() -> None:
    """A long, slow EMA (many nested recurrence blocks) stays within 1e-9 of the loop."""
    closes = ref.random_walk(11, 20_000, start=1_000.0).close
    for period in (2, 200, 1_000):
        ref.assert_series_close(
            ind.ema(closes, period).tolist(), ref.ref_ema(closes, period), 1e3, f"ema_{period}"
        )


@pytest.mark.parametrize(
    "call",
    [
        lambda: ind.ema([1.0, 2.0], 0),
        lambda: ind.realized_volatility([1.0, 2.0, 3.0], 1),
        lambda: ind.rsi(np.ones((3, 3)), 2),
        lambda: ind.atr([1.0, 2.0], [1.0], [1.0, 2.0], 1),
    ],
    ids=["zero-period", "volatility-of-one", "two-dimensional", "ragged-columns"],
)
def test_bad_input_is_a_value_error(call: object) -> None:
    """Impossible periods and malformed series are rejected with ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011  (each case has its own message)
        call()  # type: ignore[operator]


@st.composite
def ohlcv_bars(draw: st.DrawFn) -> ref.Bars:
    """Short series with jumps, repeated closes and zero volumes."""
    length = draw(st.integers(0, 90))
    price = st.one_of(st.floats(1.0, 1_000.0), st.sampled_from([50.0, 100.0]))
    close = draw(st.lists(price, min_size=length, max_size=length))
    up = draw(st.lists(st.floats(0.0, 0.5), min_size=length, max_size=length))
    down = draw(st.lists(st.floats(0.0, 0.5), min_size=length, max_size=length))
    volume = draw(
        st.lists(st.one_of(st.just(0.0), st.floats(0.0, 1e4)), min_size=length, max_size=length)
    )
    high = [c * (1 + u) for c, u in zip(close, up, strict=True)]
    low = [c * (1 - d) for c, d in zip(close, down, strict=True)]
    return ref.Bars(high, low, close, volume)


@DETERMINISTIC
@given(ohlcv_bars())
def test_any_series_matches_reference(bars: ref.Bars) -> None:
    """For arbitrary positive OHLCV, every indicator equals the reference, NaNs included."""
    _assert_matches_reference(bars)


def test_indicator_set_reports_latest_values_lookbacks_and_params() -> None:
    """The set gives each key's last value, its lookback and the flat parameters."""
    bars = ref.random_walk(8, 120)
    result = compute_indicator_set(bars.open, bars.high, bars.low, bars.close, bars.volume)
    expected = ref.ref_indicator_series(bars.high, bars.low, bars.close, bars.volume)
    assert list(result.values) == list(expected) == list(result.lookback)
    for name, value in result.values.items():
        assert value == pytest.approx(expected[name][-1], rel=1e-9), name
    assert result.lookback["macd_hist"] == 33
    assert result.lookback["atr_14"] == 14
    assert result.lookback["vwap_20"] == 19
    assert result.params["ema_period_2"] == 50.0
    assert result.params["bb_num_std"] == 2.0
    assert result.candle_count == 120


def test_indicator_set_gives_none_inside_lookback() -> None:
    """Values still inside their lookback are None, never NaN."""
    bars = ref.random_walk(8, 30)
    values = compute_indicator_set(bars.open, bars.high, bars.low, bars.close, bars.volume).values
    assert values["ema_50"] is None
    assert values["macd"] is None
    assert values["ema_26"] is not None
    assert values["vwap_20"] is not None


def test_indicator_set_without_volume_drops_volume_keys() -> None:
    """Without volume there is no obv or vwap key, in values or in lookback."""
    bars = ref.random_walk(8, 60)
    result = compute_indicator_set(bars.open, bars.high, bars.low, bars.close, None)
    assert "obv" not in result.values
    assert "vwap_20" not in result.lookback


def test_indicator_set_uses_custom_params_in_keys() -> None:
    """Periods show up in the keys, so custom parameters give custom names."""
    params = IndicatorParams(ema_periods=(5, 8), rsi_period=7, atr_period=10, vwap_period=4)
    bars = ref.random_walk(8, 60)
    result = compute_indicator_set(bars.open, bars.high, bars.low, bars.close, bars.volume, params)
    assert {"ema_5", "ema_8", "rsi_7", "atr_10", "vwap_4"} <= set(result.values)
    assert result.values["rsi_7"] == pytest.approx(ref.ref_rsi(bars.close, 7)[-1], rel=1e-9)


def test_indicator_set_rejects_ragged_columns() -> None:
    """Columns of different lengths are a ValueError, open included."""
    bars = ref.random_walk(8, 60)
    with pytest.raises(ValueError, match="differ"):
        compute_indicator_set(bars.open[1:], bars.high, bars.low, bars.close, bars.volume)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ema_periods": (12, 12)},
        {"rsi_period": 0},
        {"volatility_period": 1},
        {"bb_num_std": -1.0},
        {"bb_num_std": math.inf},
    ],
    ids=["duplicate-ema", "zero-rsi", "volatility-of-one", "negative-width", "infinite-width"],
)
def test_params_reject_impossible_values(kwargs: dict[str, object]) -> None:
    """IndicatorParams refuses parameters no indicator could honour."""
    with pytest.raises(ValueError):  # noqa: PT011  (each case has its own message)
        IndicatorParams(**kwargs)  # type: ignore[arg-type]
