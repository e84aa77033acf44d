"""Candles from price samples, from upstream OHLC rows, and from smaller candles."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from marketpulse_common.events import Candle
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.coingecko.candle_derivation import (
    aggregate,
    native_candles,
    sampled_candles,
)

M5 = Timeframe.M5
H1 = Timeframe.H1
T0 = 1_790_000_100  # a 5-minute boundary
assert T0 % 300 == 0


def five_minutely(
    prices: list[float], start: int = T0, offset: int = 17
) -> list[tuple[int, float]]:
    return [((start + offset + 300 * k) * 1000, p) for k, p in enumerate(prices)]


def test_a_sampled_candle_runs_from_the_sample_nearest_its_open_to_the_one_nearest_its_close() -> (
    None
):
    """Open/close are the samples nearest the boundaries; each candle opens at the last close."""
    samples = five_minutely([100, 104, 99, 101])
    candles = sampled_candles(samples, M5, tolerance_s=300, final_until=0)
    assert [c.t for c in candles] == [T0, T0 + 300, T0 + 600]
    assert [(c.o, c.c) for c in candles] == [(100, 104), (104, 99), (99, 101)]
    assert all(c.v is None for c in candles)


def test_high_and_low_span_every_sample_between_open_and_close() -> None:
    """An hourly candle from 5-minutely samples takes their extremes."""
    hour = H1.floor(T0) + 3600
    prices = [100.0, 103, 107, 95, 99, 100, 101, 102, 104, 98, 97, 100, 105]
    [candle] = sampled_candles(
        five_minutely(prices, start=hour), H1, tolerance_s=300, final_until=0
    )
    assert candle == Candle(t=hour, o=100, h=107, l=95, c=105, v=None)


def test_a_candle_without_a_sample_near_an_end_is_a_hole() -> None:
    """A 20-minute gap in the samples leaves the candles it swallows out, not flat."""
    samples = [*five_minutely([100, 101]), *five_minutely([102, 103], start=T0 + 1800)]
    candles = sampled_candles(samples, M5, tolerance_s=120, final_until=0)
    assert [c.t for c in candles] == [T0, T0 + 1800]


def test_the_newest_candle_waits_for_a_sample_past_its_close() -> None:
    """Without a later sample the close is unknown, until the upstream has had its time."""
    samples = [(T0 * 1000 + 17_000, 100.0), ((T0 + 317) * 1000, 101.0), ((T0 + 590) * 1000, 102.0)]
    early = sampled_candles(samples, M5, tolerance_s=300, final_until=T0 + 599)
    assert [c.t for c in early] == [T0]  # T0 + 300 closes at T0 + 600: no sample after it
    settled = sampled_candles(samples, M5, tolerance_s=300, final_until=T0 + 600)
    assert [(c.t, c.c) for c in settled] == [(T0, 101), (T0 + 300, 102)]


def test_upstream_ohlc_rows_are_keyed_by_open_time() -> None:
    """A row stamped with close time T becomes the candle opened at T - size."""
    close = (T0 + 4 * 3600) // 14400 * 14400
    [candle] = native_candles([(close * 1000, 10.0, 12.0, 9.0, 11.0)], 14400)
    assert candle == Candle(t=close - 14400, o=10, h=12, l=9, c=11, v=None)


def test_a_row_stamped_off_the_grid_is_dropped() -> None:
    """The candle still forming, stamped with the request time, is not a candle."""
    aligned = T0 // 14400 * 14400 + 14400
    rows = [
        (aligned * 1000, 10.0, 12.0, 9.0, 11.0),
        ((aligned + 777) * 1000, 11.0, 11.5, 10.5, 11.2),
    ]
    assert [c.t for c in native_candles(rows, 14400)] == [aligned - 14400]


def test_four_hour_candles_need_all_four_hours() -> None:
    """Complete groups of hourly candles fold into one; an incomplete group is left out."""
    start = T0 // 14400 * 14400
    hours = [Candle(t=start + 3600 * k, o=10 + k, h=20 + k, l=5 + k, c=11 + k) for k in range(7)]
    [four] = aggregate(hours, 3600, Timeframe.H4)
    assert four == Candle(t=start, o=10, h=23, l=5, c=14, v=None)


prices = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(
    offsets=st.lists(st.integers(0, 3 * 86_400), min_size=0, max_size=80),
    values=st.lists(prices, min_size=80, max_size=80),
    tf=st.sampled_from([Timeframe.M5, Timeframe.M15, Timeframe.H1, Timeframe.D1]),
    tolerance=st.sampled_from([60, 300, 3600]),
)
def test_sampled_candles_are_always_valid_aligned_and_ordered(
    offsets: list[int], values: list[float], tf: Timeframe, tolerance: int
) -> None:
    """Whatever the sampling, every candle is aligned, bounded and opened once, in order."""
    samples = [((T0 + o) * 1000, v) for o, v in zip(offsets, values, strict=False)]
    candles = sampled_candles(samples, tf, tolerance_s=tolerance, final_until=T0 + 10**6)
    opens = [c.t for c in candles]
    assert opens == sorted(set(opens))
    assert all(c.t % tf.seconds == 0 for c in candles)
    assert all(c.l <= min(c.o, c.c) <= max(c.o, c.c) <= c.h for c in candles)
    known = {v for _, v in samples}
    assert all({c.o, c.h, c.l, c.c} <= known for c in candles)
