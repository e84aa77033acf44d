"""MP_FORECAST_HORIZON reaches the forecaster; out of bounds it stops the service by name."""

from __future__ import annotations

import pytest

from marketpulse_common.errors import SettingsError
from marketpulse_common.settings import load_settings
from marketpulse_compute.service import forecasting_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("MP_FORECAST_HORIZON", raising=False)


def test_the_horizon_defaults_to_the_next_candle() -> None:
    """Nothing set: forecasts look one candle ahead, as before the setting existed."""
    assert load_settings().forecast_horizon == 1
    assert forecasting_config(load_settings()).forecast.horizon == 1


def test_the_horizon_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """MP_FORECAST_HORIZON=6 makes six-candle forecasts; the other knobs keep defaults."""
    monkeypatch.setenv("MP_FORECAST_HORIZON", "6")
    config = forecasting_config(load_settings())
    assert config.forecast.horizon == 6
    assert config.forecast.train_window == 400


@pytest.mark.parametrize("value", ["0", "49", "two"])
def test_a_horizon_out_of_bounds_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """1..48 candles only; anything else is a SettingsError naming the variable."""
    monkeypatch.setenv("MP_FORECAST_HORIZON", value)
    with pytest.raises(SettingsError, match="MP_FORECAST_HORIZON"):
        load_settings()
