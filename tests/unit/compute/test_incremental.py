"""Incremental state machines give the batch values at every candle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketpulse_common.events import Candle
from marketpulse_compute import indicators as ind
from marketpulse_compute.incremental import (
    BollingerState,
    IncrementalIndicatorSet,
    Ohlcv,
    VolatilityState,
    VwapState,
)
from marketpulse_compute.indicator_set import (
    IndicatorParams,
    compute_indicator_series,
    compute_indicator_set,
)

from . import reference as ref

DETERMINISTIC = settings(max_examples=60, derandomize=True, database=None, deadline=None)


def _candles(bars: ref.Bars) -> list[Ohlcv]:
    columns = (bars.open, bars.high, bars.low, bars.close, bars.volume)
    return [Ohlcv(*row) for row in zip(*columns, strict=True)]


def _assert_step_matches(
    step: dict[str, float | None], batch: dict[str, float | None], scales: dict[str, float]
) -> None:
    assert list(step) == list(batch)
    for name, value in step.items():
        expected = batch[name]
        if expected is None:
            assert value is None, name
        else:
            assert value is not None, name
            assert math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12 * scales[name])


@pytest.mark.parametrize(
    "bars",
    [ref.random_walk(1, 150), ref.random_walk(2, 150), ref.real_shaped(3, 200)],
    ids=["walk-1", "walk-2", "real-shaped"],
)
def test_each_step_equals_batch_over_the_prefix(bars: ref.Bars) -> None:
    """After every candle, the incremental set equals compute_indicator_set on the prefix."""
    live = IncrementalIndicatorSet()
    scales = ref.input_scales(bars)
    for end, candle in enumerate(_candles(bars), start=1):
        batch = compute_indicator_set(
            bars.open[:end], bars.high[:end], bars.low[:end], bars.close[:end], bars.volume[:end]
        )
        _assert_step_matches(live.update(candle), batch.values, scales)


@pytest.mark.parametrize("seed", [4, 5])
def test_long_run_stays_equal_to_batch(seed: int) -> None:
    """Over thousands of candles (many window rebuilds) no running sum drifts away."""
    bars = ref.real_shaped(seed, 4000)
    series = compute_indicator_series(
        bars.high, bars.low, bars.close, bars.volume, IndicatorParams()
    )
    live = IncrementalIndicatorSet()
    scales = ref.input_scales(bars)
    for i, candle in enumerate(_candles(bars)):
        batch = {name: _none_if_nan(values[i]) for name, values in series.items()}
        _assert_step_matches(live.update(candle), batch, scales)


def test_without_volume_has_no_volume_keys() -> None:
    """A set built without volume reports the batch keys for volume-less input."""
    bars = ref.random_walk(6, 40)
    live = IncrementalIndicatorSet(with_volume=False)
    step = {}
    for candle in _candles(bars):
        step = live.update(candle._replace(v=None))
    batch = compute_indicator_set(bars.open, bars.high, bars.low, bars.close, None)
    assert list(step) == list(batch.values)
    assert live.lookback == batch.lookback


def test_missing_volume_is_refused_before_any_state_moves() -> None:
    """A candle without volume for a volume set raises and leaves the set untouched."""
    live = IncrementalIndicatorSet()
    with pytest.raises(ValueError, match="volume"):
        live.update(Ohlcv(1.0, 2.0, 0.5, 1.5, None))
    assert live.update(Ohlcv(1.0, 2.0, 0.5, 1.5, 3.0))["obv"] == 3.0


def test_accepts_the_shared_candle_event() -> None:
    """marketpulse_common's Candle can be fed as it is (o/h/l/c/v attributes)."""
    live = IncrementalIndicatorSet()
    values = live.update(Candle(t=0, o=1.0, h=2.0, l=0.5, c=1.5, v=3.0))
    assert values["obv"] == 3.0
    assert values["ema_12"] is None


def test_volatility_survives_a_regime_switch() -> None:
    """After a burst leaves the window, a 1e4x quieter volatility is still exact to 1e-9."""
    rng = np.random.default_rng(9)
    returns = np.concatenate([rng.normal(0, 0.1, 200), rng.normal(0, 1e-5, 200)])
    closes = (50_000.0 * np.exp(np.cumsum(returns))).tolist()
    state = VolatilityState(20)
    batch = ind.realized_volatility(closes, 20)
    for i, close in enumerate(closes):
        value = state.update(close)
        if i >= 20:
            assert value == pytest.approx(batch[i], rel=1e-9), i


def test_bollinger_width_survives_a_regime_switch() -> None:
    """Band width (the deviation itself, not just the bands) tracks a collapse in spread."""
    rng = np.random.default_rng(10)
    values = np.concatenate([rng.normal(0, 1e3, 100), rng.normal(0, 1e-3, 100)]).tolist()
    state = BollingerState(20, 2.0)
    batch = ind.bollinger(values, 20, 2.0)
    for i, value in enumerate(values):
        bands = state.update(value)
        if i >= 19:
            assert bands is not None
            width = bands.upper - bands.middle
            assert width == pytest.approx(batch.upper[i] - batch.middle[i], rel=1e-9), i


@pytest.mark.parametrize("price", [100.1, 0.3, 12_345.678, 1.0001])
def test_flat_window_has_zero_width_bands(price: float) -> None:
    """Once the window holds one repeated price, batch and live bands close exactly."""
    closes = [price * 1.01, price * 0.98, price * 1.003, *([price] * 20)]
    state = BollingerState(20, 2.0)
    bands = None
    for close in closes:
        bands = state.update(close)
    assert bands is not None
    assert bands.upper == bands.middle == bands.lower
    batch = ind.bollinger(closes, 20, 2.0)
    assert batch.upper[-1] == batch.middle[-1] == batch.lower[-1]


def test_vwap_state_is_nan_until_something_trades() -> None:
    """A window without volume gives NaN; the first trade makes it that bar's price."""
    state = VwapState(2)
    assert state.update(3.0, 1.0, 2.0, 0.0) is None
    assert math.isnan(state.update(6.0, 2.0, 4.0, 0.0) or 0.0)
    assert state.update(9.0, 3.0, 6.0, 5.0) == 6.0


@st.composite
def ohlcv_candles(draw: st.DrawFn) -> ref.Bars:
    """Up to 120 candles with jumps, repeated closes and zero volumes."""
    length = draw(st.integers(0, 120))
    price = st.one_of(st.floats(1.0, 1_000.0), st.sampled_from([50.0, 100.0]))
    close = draw(st.lists(price, min_size=length, max_size=length))
    spread = draw(st.lists(st.floats(0.0, 0.5), min_size=length, max_size=length))
    volume = draw(
        st.lists(st.one_of(st.just(0.0), st.floats(0.0, 1e4)), min_size=length, max_size=length)
    )
    high = [c * (1 + s) for c, s in zip(close, spread, strict=True)]
    low = [c * (1 - s / 2) for c, s in zip(close, spread, strict=True)]
    return ref.Bars(high, low, close, volume)


@DETERMINISTIC
@given(ohlcv_candles())
def test_any_series_steps_equal_batch(bars: ref.Bars) -> None:
    """For arbitrary positive OHLCV, every step equals the batch series at that index."""
    series = compute_indicator_series(
        bars.high, bars.low, bars.close, bars.volume, IndicatorParams()
    )
    live = IncrementalIndicatorSet()
    scales = ref.input_scales(bars)
    for i, candle in enumerate(_candles(bars)):
        batch = {name: _none_if_nan(values[i]) for name, values in series.items()}
        _assert_step_matches(live.update(candle), batch, scales)


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
