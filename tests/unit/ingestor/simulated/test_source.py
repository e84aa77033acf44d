"""How much history the simulated source asks the simulator to keep."""

from __future__ import annotations

from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.simulated.market import DEFAULT_HISTORY_DAYS
from marketpulse_ingestor.simulated.source import history_days


def test_short_histories_use_the_simulator_default() -> None:
    """A depth that fits the default window keeps the default."""
    assert history_days(500, [Timeframe.M5, Timeframe.D1]) == DEFAULT_HISTORY_DAYS


def test_a_deep_daily_history_gets_enough_days() -> None:
    """2000 daily candles need at least 2000 days of minutes behind them."""
    assert history_days(2000, [Timeframe.H1, Timeframe.D1]) >= 2000
