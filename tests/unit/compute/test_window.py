"""A cached candle window becomes one Indicators record that names exactly its inputs."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from marketpulse_common.events import Candle, Indicators, decode_payload, encode_payload
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.errors import InvalidWindow
from marketpulse_compute.indicator_set import IndicatorParams, compute_indicator_set
from marketpulse_compute.window import (
    WINDOW_SIZE,
    Window,
    check_window_size,
    indicators_for_window,
    window_from_members,
)

TF = Timeframe.H1
START = 1_700_000_000 // 3600 * 3600
NOW = datetime(2024, 1, 1, tzinfo=UTC)
PARAMS = IndicatorParams()


def make_candles(count: int, *, seed: int = 7, volume: bool = True) -> list[Candle]:
    """A seeded random walk of closed, aligned candles."""
    rng = random.Random(seed)
    price, out = 100.0, []
    for i in range(count):
        close = price * (1 + rng.gauss(0, 0.01))
        high = max(price, close) * (1 + rng.random() * 0.005)
        low = min(price, close) * (1 - rng.random() * 0.005)
        v = rng.uniform(10, 1000) if volume else None
        out.append(Candle(t=START + i * TF.seconds, o=price, h=high, l=low, c=close, v=v))
        price = close
    return out


def window_of(candles: list[Candle]) -> Window:
    return window_from_members(TF, [encode_payload(c) for c in candles])


def test_window_metadata_names_first_last_and_count() -> None:
    """The record's window carries the timeframe, first/last open time and candle count."""
    candles = make_candles(120)
    record = indicators_for_window("bitcoin", window_of(candles), PARAMS, NOW)
    assert record.window.tf is TF
    assert record.window.first_open == candles[0].t
    assert record.window.last_open == candles[-1].t
    assert record.window.count == 120
    assert (record.asset, record.tf, record.computed_at) == ("bitcoin", TF, NOW)


def test_input_hash_is_stable_for_the_same_candles() -> None:
    """The same candles hash the same, however often the window is rebuilt."""
    first = window_of(make_candles(60)).describe().input_hash
    again = window_of(make_candles(60)).describe().input_hash
    assert first == again


def test_input_hash_is_reproducible_from_plain_json() -> None:
    """The hash is sha256 of the sorted, compact JSON of the columns: anyone can recompute it."""
    candles = [
        Candle(t=3600, o=100.0, h=102.0, l=99.0, c=101.0, v=5.0),
        Candle(t=7200, o=101.0, h=101.5, l=98.5, c=99.25, v=7.5),
    ]
    columns = {
        "t": [3600, 7200],
        "o": [100.0, 101.0],
        "h": [102.0, 101.5],
        "l": [99.0, 98.5],
        "c": [101.0, 99.25],
        "v": [5.0, 7.5],
    }
    plain = json.dumps(columns, sort_keys=True, separators=(",", ":")).encode()
    expected = hashlib.sha256(plain).hexdigest()[:16]
    assert expected == "15737a1a24136eb7"
    assert window_of(candles).describe().input_hash == expected


def test_input_hash_changes_with_any_input() -> None:
    """One different close, a missing volume or a shifted open time changes the hash."""
    candles = make_candles(40)
    base = window_of(candles).describe().input_hash
    last = candles[-1]
    changed_close = [*candles[:-1], last.model_copy(update={"c": (last.h + last.l) / 2})]
    no_volume = [*candles[:-1], last.model_copy(update={"v": None})]
    shifted = [*candles[:-1], last.model_copy(update={"t": last.t + TF.seconds})]
    others = {window_of(c).describe().input_hash for c in (changed_close, no_volume, shifted)}
    assert base not in others
    assert len(others) == 3


def test_values_inside_their_lookback_are_none() -> None:
    """With 30 candles, EMA(50) and MACD (lookback 33) are None while RSI(14) has a value."""
    record = indicators_for_window("bitcoin", window_of(make_candles(30)), PARAMS, NOW)
    assert record.values["ema_50"] is None
    assert record.values["macd"] is None
    assert record.values["rsi_14"] is not None
    assert record.lookback["macd"] == 33


def test_values_are_the_indicator_set_over_the_window() -> None:
    """Values, lookbacks and params are exactly the indicator set over the window's columns."""
    candles = make_candles(WINDOW_SIZE)
    window = window_of(candles)
    cols = window.columns()
    expected = compute_indicator_set(
        cols.open, cols.high, cols.low, cols.close, cols.volume, PARAMS
    )
    record = indicators_for_window("bitcoin", window, PARAMS, NOW)
    assert record.values == expected.values
    assert record.lookback == expected.lookback
    assert record.params == expected.params
    assert all(value is not None for value in record.values.values())


def test_volume_indicators_need_volume_on_every_candle() -> None:
    """One candle without volume drops OBV and VWAP rather than computing them over holes."""
    candles = make_candles(60)
    with_volume = indicators_for_window("bitcoin", window_of(candles), PARAMS, NOW)
    holed = [*candles[:-1], candles[-1].model_copy(update={"v": None})]
    without = indicators_for_window("bitcoin", window_of(holed), PARAMS, NOW)
    assert "obv" in with_volume.values
    assert "obv" not in without.values
    assert not any(key.startswith("vwap") for key in without.values)


def test_record_survives_the_event_boundary() -> None:
    """The record encodes and decodes as the indicators/1 schema unchanged (None, not NaN)."""
    record = indicators_for_window("bitcoin", window_of(make_candles(30)), PARAMS, NOW)
    decoded = decode_payload("indicators/1", encode_payload(record))
    assert isinstance(decoded, Indicators)
    assert decoded == record


def test_members_keep_their_order() -> None:
    """Cached members are validated into candles, oldest first."""
    candles = make_candles(5)
    assert window_of(candles).candles == tuple(candles)


def test_a_malformed_member_makes_the_window_invalid() -> None:
    """A cached candle that fails validation (high below close) rejects the window."""
    members = [encode_payload(c) for c in make_candles(3)]
    members[1] = f'{{"t":{START + TF.seconds},"o":100.0,"h":99.0,"l":98.0,"c":100.5}}'
    with pytest.raises(InvalidWindow, match="malformed"):
        window_from_members(TF, members)


def test_two_members_for_one_open_time_make_the_window_invalid() -> None:
    """Two cached candles with the same open time contradict each other: no window."""
    candles = make_candles(3)
    twin = candles[1].model_copy(update={"c": candles[1].c * 1.01, "h": candles[1].h * 1.02})
    members = [encode_payload(c) for c in (candles[0], candles[1], twin, candles[2])]
    with pytest.raises(InvalidWindow, match="out of order"):
        window_from_members(TF, members)


def test_an_empty_window_has_no_description() -> None:
    """An empty window cannot be described (there is no first or last candle)."""
    with pytest.raises(InvalidWindow):
        Window(tf=TF, candles=()).describe()


def test_the_window_size_covers_the_longest_lookback() -> None:
    """The default window fits the default parameters; one too short for them is refused."""
    check_window_size(PARAMS, WINDOW_SIZE)
    with pytest.raises(ValueError, match="lookback"):
        check_window_size(replace(PARAMS, ema_periods=(12, 26, 400)), WINDOW_SIZE)
