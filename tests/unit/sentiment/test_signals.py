"""Indicator values are picked out by compute's names and distrusted when out of domain."""

from __future__ import annotations

import math

from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.signals import read_frame

H1 = Timeframe.H1


def test_emas_are_ordered_by_period_not_by_name() -> None:
    """ema_9 comes before ema_12 and ema_200: fastest first."""
    signals = read_frame(H1, {"ema_200": 3.0, "ema_12": 2.0, "ema_9": 1.0})
    assert signals.emas == (1.0, 2.0, 3.0)


def test_known_names_are_read() -> None:
    """RSI, MACD and volatility are found under compute's keys."""
    signals = read_frame(
        H1, {"rsi_14": 55.0, "macd": 2.0, "macd_hist": -0.5, "volatility_20": 0.01}
    )
    assert (signals.rsi, signals.macd, signals.macd_hist, signals.volatility) == (
        55.0,
        2.0,
        -0.5,
        0.01,
    )


def test_histogram_is_derived_from_macd_and_signal_when_missing() -> None:
    """Without macd_hist, the histogram is macd - macd_signal."""
    assert read_frame(H1, {"macd": 3.0, "macd_signal": 1.0}).macd_hist == 2.0


def test_values_out_of_their_domain_are_unknown() -> None:
    """RSI outside 0-100, negative volatility, non-positive EMAs and NaN read as missing."""
    signals = read_frame(
        H1,
        {
            "rsi_14": 140.0,
            "volatility_20": -0.1,
            "ema_12": 0.0,
            "ema_26": -5.0,
            "ema_50": math.nan,
            "macd_hist": math.inf,
        },
    )
    assert (signals.rsi, signals.volatility, signals.emas, signals.macd_hist) == (
        None,
        None,
        (),
        None,
    )


def test_unrelated_names_are_ignored() -> None:
    """Keys the heuristic does not read (bands, OBV, typos) change nothing."""
    signals = read_frame(H1, {"obv": 1e9, "bb_upper": 5.0, "emax_12": 1.0, "rsi": 50.0})
    assert (signals.emas, signals.rsi, signals.macd_hist) == ((), None, None)
