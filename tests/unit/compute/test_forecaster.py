"""Walk-forward forecasts use only what was known at their candle, and say what they mean."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketpulse_compute.features import FeatureParams
from marketpulse_compute.forecast_record import RecordContext, forecast_record
from marketpulse_compute.forecaster import (
    MODEL_FAMILY,
    ForecastConfig,
    ForecastPoint,
    fit_at,
    forecastable,
    live_forecast,
    predict,
    prepare,
    training_rows,
    walk_forward,
)
from marketpulse_compute.window import columns_head
from tests.unit.compute.series import TF, random_walk, with_new_future

SMALL = ForecastConfig(train_window=120, min_train=40, refit_every=6, l2=10.0)
N = 240
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def all_points(cols_seed: int, config: ForecastConfig, future: tuple[int, int] | None = None):
    cols = random_walk(N, seed=cols_seed)
    if future is not None:
        cols = with_new_future(cols, *future)
    history = prepare(cols, TF.seconds, config)
    return history, walk_forward(history, range(N), config)


def same_point(a: ForecastPoint, b: ForecastPoint) -> bool:
    return (
        a.origin == b.origin
        and a.p_up == b.p_up
        and a.expected_return == b.expected_return
        and a.interval == b.interval
        and np.array_equal(a.contributions, b.contributions)
        and np.array_equal(a.fit.rows, b.fit.rows)
        and a.climatology == b.climatology
        and a.persistence == b.persistence
    )


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(60, N - 2),
    future_seed=st.integers(0, 10_000),
    horizon=st.sampled_from([1, 3]),
)
def test_changing_future_candles_never_changes_a_past_forecast(
    seed: int, k: int, future_seed: int, horizon: int
) -> None:
    """Replace every candle after k by another path: every forecast at or before k is equal."""
    config = ForecastConfig(horizon=horizon, train_window=120, min_train=40, refit_every=6, l2=10.0)
    history, before = all_points(seed, config)
    perturbed, after = all_points(seed, config, future=(k, future_seed))
    past_before = [p for p in before if p.origin <= k]
    past_after = [p for p in after if p.origin <= k]
    assert len(past_before) == len(past_after)
    assert all(same_point(a, b) for a, b in zip(past_before, past_after, strict=True))
    context = RecordContext("bitcoin", TF, config, "v", NOW)
    records = [forecast_record(history, p, context, "backtest") for p in past_before]
    again = [forecast_record(perturbed, p, context, "backtest") for p in past_after]
    assert records == again


def test_the_past_comparison_is_not_vacuous() -> None:
    """There are forecasts before k, and the future really changes the later ones."""
    _, before = all_points(3, SMALL)
    _, after = all_points(3, SMALL, future=(150, 8))
    assert sum(p.origin <= 150 for p in before) > 50
    later = [(a, b) for a, b in zip(before, after, strict=True) if a.origin > 160]
    assert any(a.p_up != b.p_up for a, b in later)


def test_training_rows_are_the_last_samples_whose_label_was_known() -> None:
    """Every row i satisfies i + horizon <= origin; there are at most train_window of them."""
    config = ForecastConfig(horizon=3, train_window=120, min_train=40)
    history = prepare(random_walk(N, seed=4), TF.seconds, config)
    rows = training_rows(history, 200, config)
    assert rows.max() == 200 - 3
    assert rows.min() == 200 - 3 - 120 + 1
    assert rows.size == 120


def test_forecasts_start_once_there_are_enough_labelled_samples() -> None:
    """Complete features from row 50 and 40 labelled samples: the first origin is 90."""
    history = prepare(random_walk(N, seed=4), TF.seconds, SMALL)
    able = forecastable(history, SMALL)
    assert not able[:90].any()
    assert able[90:].all()
    assert fit_at(history, 89, SMALL) is None


def test_the_live_forecast_equals_a_backtest_refitted_at_every_candle() -> None:
    """Live and backtest are one computation: refit each candle and they coincide."""
    config = ForecastConfig(train_window=120, min_train=40, refit_every=1, l2=10.0)
    cols = random_walk(N, seed=6)
    full = prepare(cols, TF.seconds, config)
    backtest = {p.origin: p for p in walk_forward(full, range(N), config)}
    for origin in (120, 180, N - 1):
        history = prepare(columns_head(cols, origin + 1), TF.seconds, config)
        live = live_forecast(history, config)
        assert live is not None
        assert math.isclose(live.p_up, backtest[origin].p_up, rel_tol=1e-12)


def test_expected_return_follows_the_probability_and_sits_inside_its_interval() -> None:
    """E[r] > 0 iff P(up) > 0.5, the interval brackets it and widens with the horizon."""
    one = live_forecast(prepare(random_walk(N, seed=9), TF.seconds, SMALL), SMALL)
    config = ForecastConfig(horizon=4, train_window=120, min_train=40, l2=10.0)
    four = live_forecast(prepare(random_walk(N, seed=9), TF.seconds, config), config)
    assert one is not None and four is not None
    for point in (one, four):
        assert (point.expected_return > 0) == (point.p_up > 0.5)
        low, high = point.interval
        assert low < point.expected_return < high
    assert (four.interval[1] - four.interval[0]) > 1.9 * (one.interval[1] - one.interval[0])
    z90 = 1.6448536269514722
    centre = math.log1p(one.expected_return)
    assert math.isclose(math.log1p(one.interval[1]) - centre, z90 * one.volatility, rel_tol=1e-9)


def test_baselines_come_from_the_training_window() -> None:
    """Climatology is the training base rate; persistence repeats the last move's side."""
    history = prepare(random_walk(N, seed=11), TF.seconds, SMALL)
    point = live_forecast(history, SMALL)
    assert point is not None
    rows = point.fit.rows
    up = history.targets.up[rows]
    assert point.climatology.p_up == pytest.approx(up.mean())
    assert point.climatology.expected_return == pytest.approx(history.targets.forward[rows].mean())
    past = history.targets.past[rows]
    repeats = np.mean((past > 0) == (up == 1.0))
    last_move = history.targets.past[N - 1]
    expected_p = repeats if last_move > 0 else 1 - repeats
    assert point.persistence.p_up == pytest.approx(expected_p)
    assert point.persistence.expected_return == last_move


def test_a_fit_from_the_future_is_refused() -> None:
    """predict() will not use a model fitted after the forecast's candle."""
    history = prepare(random_walk(N, seed=2), TF.seconds, SMALL)
    fit = fit_at(history, 200, SMALL)
    assert fit is not None
    with pytest.raises(ValueError, match="cannot forecast"):
        predict(history, fit, 150, SMALL)


def test_the_model_version_names_the_family_and_hashes_the_configuration() -> None:
    """Same config and features → same version; any change → another one."""
    keys = ["ret_1", "rsi_14"]
    version = ForecastConfig().model_version(keys)
    assert version.startswith(f"{MODEL_FAMILY}+")
    assert version == ForecastConfig().model_version(list(keys))
    assert version != ForecastConfig(l2=5.0).model_version(keys)
    assert version != ForecastConfig(features=FeatureParams(rsi_period=7)).model_version(keys)
    assert version != ForecastConfig().model_version([*keys, "volume_z"])


def test_impossible_configurations_are_refused() -> None:
    """A training window smaller than the minimum, or a zero horizon, is a ValueError."""
    with pytest.raises(ValueError, match="train_window"):
        ForecastConfig(train_window=50, min_train=100)
    with pytest.raises(ValueError, match="horizon"):
        ForecastConfig(horizon=0)


def test_a_flat_market_is_forecast_without_errors() -> None:
    """No movement at all: every label is "not up", volatility is 0, nothing is NaN."""
    cols = random_walk(N, seed=1)
    flat = cols._replace(
        open=np.full(N, 50.0), high=np.full(N, 50.0), low=np.full(N, 50.0), close=np.full(N, 50.0)
    )
    point = live_forecast(prepare(flat, TF.seconds, SMALL), SMALL)
    assert point is not None
    assert point.p_up < 0.01
    assert point.expected_return == 0.0
    assert point.interval == (0.0, 0.0)
    context = RecordContext("bitcoin", TF, SMALL, "v", NOW)
    record = forecast_record(prepare(flat, TF.seconds, SMALL), point, context, "live")
    assert record.volatility == 0.0
