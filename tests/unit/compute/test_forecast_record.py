"""A forecast record explains itself and names exactly the candles it was made from."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from marketpulse_common.events import Forecast, decode_payload, encode_payload
from marketpulse_compute.forecast_record import RecordContext, forecast_record
from marketpulse_compute.forecaster import ForecastConfig, live_forecast, prepare, walk_forward
from marketpulse_compute.model import sigmoid
from marketpulse_compute.window import columns_head, describe_columns
from tests.unit.compute.series import TF, random_walk

CONFIG = ForecastConfig(train_window=120, min_train=40, l2=1.0)
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def live_record(seed: int = 21, config: ForecastConfig = CONFIG) -> Forecast:
    history = prepare(random_walk(200, seed=seed), TF.seconds, config)
    point = live_forecast(history, config)
    assert point is not None
    context = RecordContext("bitcoin", TF, config, config.model_version(history.features.keys), NOW)
    return forecast_record(history, point, context, "live")


def test_contributions_sum_to_the_logit_minus_the_intercept() -> None:
    """logit = intercept + Σ coefficient × z, and P(up) = sigmoid(logit)."""
    record = live_record()
    explanation = record.explanation
    total = sum(c.contribution for c in explanation.contributions)
    assert math.isclose(total, explanation.logit - explanation.intercept, abs_tol=1e-12)
    assert math.isclose(record.p_up, float(sigmoid(explanation.logit)), rel_tol=1e-12)
    for c in explanation.contributions:
        assert math.isclose(c.contribution, c.coefficient * c.z, rel_tol=1e-12, abs_tol=1e-15)


def test_contributions_are_sorted_by_size_and_readable() -> None:
    """Largest |contribution| first; every feature has a key and a name for people."""
    contributions = live_record().explanation.contributions
    sizes = [abs(c.contribution) for c in contributions]
    assert sizes == sorted(sizes, reverse=True)
    assert len(contributions) == 11
    names = {c.feature: c.name for c in contributions}
    assert names["ema_50_gap"] == "Price vs EMA(50), in volatilities"
    assert names["ret_1"] == "Return of the last candle, in volatilities"


def test_the_record_names_its_candles_horizon_and_model() -> None:
    """origin, resolves_at, the window up to the origin and the model version."""
    config = ForecastConfig(horizon=3, train_window=120, min_train=40, l2=1.0)
    cols = random_walk(200, seed=21)
    record = live_record(config=config)
    assert record.origin == int(cols.open_time[-1])
    assert record.resolves_at == record.origin + 3 * TF.seconds
    assert record.window == describe_columns(TF, cols)
    assert record.model_version.startswith("logit-ridge/1+")
    assert record.interval.level == 0.9
    assert record.training.samples == 120
    assert record.training.last_origin == record.origin - 3 * TF.seconds


def test_a_backtest_record_describes_the_history_as_it_stood() -> None:
    """A backtest forecast's window ends at its own origin, not at the newest candle."""
    cols = random_walk(200, seed=22)
    history = prepare(cols, TF.seconds, CONFIG)
    point = walk_forward(history, [150], CONFIG)[0]
    context = RecordContext("bitcoin", TF, CONFIG, "v", NOW)
    record = forecast_record(history, point, context, "backtest")
    assert record.source == "backtest"
    assert record.window == describe_columns(TF, columns_head(cols, 151))


def test_the_record_survives_the_wire() -> None:
    """Encoded as forecast/1 and decoded again, the record is unchanged."""
    record = live_record()
    assert decode_payload("forecast/1", encode_payload(record)) == record


def test_a_probability_outside_zero_one_is_rejected_by_the_schema() -> None:
    """The boundary model refuses impossible values."""
    data = live_record().model_dump()
    data["p_up"] = 1.5
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Forecast.model_validate(data)
