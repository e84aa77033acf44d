"""The call plan: the wanted cadence when it fits, the expensive jobs slowed when not."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from marketpulse_common.settings import load_settings
from marketpulse_ingestor.budget import BudgetLimits
from marketpulse_ingestor.call_plan import (
    JobDemand,
    allowed_calls_per_s,
    plan_calls,
    water_level,
)
from marketpulse_ingestor.coingecko.jobs import plan_for
from marketpulse_ingestor.coingecko.plan import upstream_config

KEY = "CG-unit-test-key-123456"


def plan(**values: Any):  # type: ignore[no-untyped-def]
    settings = load_settings(source="coingecko", **values)
    return plan_for(upstream_config(settings), settings)


def test_the_public_plan_affords_the_wanted_cadence() -> None:
    """3 assets, 4 timeframes at 5/min: tickers each minute, candles each close, ~1.4/min."""
    public = plan()
    assert public.interval("tickers") == 60
    assert public.interval("candles:5m") == 300
    assert public.interval("candles:1d") == 86_400
    assert public.stretched() == []
    assert 1.4 < public.calls_per_minute <= 2.5  # half of 5 is the most the jobs may plan


def test_the_demo_month_slows_tickers_and_5m_and_keeps_the_rest_on_time() -> None:
    """10,000 credits a month cannot pay for a ticker a minute: the expensive jobs slow down
    to fit 90 % of it; hourly, 4-hourly and daily candles still come at each close."""
    demo = plan(coingecko_plan="demo", coingecko_api_key=KEY)
    assert demo.calls_per_month <= 9_000
    assert {job.name for job in demo.stretched()} == {"tickers", "candles:5m"}
    assert 600 <= demo.interval("tickers") <= 900  # under the gateway's 15 min staleness
    assert demo.interval("candles:5m") % 300 == 0
    assert demo.interval("candles:1h") == 3600
    assert "calls/min planned of 30" in demo.describe()
    assert "calls/month of 10,000" in demo.describe()


def test_a_tight_ceiling_stretches_the_ticker_in_budget_windows() -> None:
    """A ticker wanted every 0.1 s against 4 calls per 2 s is slowed to 1 s (half the budget)."""
    fast = plan(
        coingecko_budget_window_s=2,
        coingecko_calls_per_minute=4,
        coingecko_ticker_interval_s=0.1,
        timeframes="1h",
    )
    assert fast.interval("tickers") >= 1.0
    assert fast.calls_per_minute <= 0.5 * 4 * 30 + 1e-9


def test_candle_jobs_stay_on_their_timeframe_grid() -> None:
    """A slowed candle job runs every whole number of candles."""
    limits = BudgetLimits(calls_per_window=1, window_s=60, monthly_calls=None)
    demands = [JobDemand("candles:5m", 50, 300, 300)]
    [job] = plan_calls(demands, limits).jobs
    assert job.interval_s % 300 == 0
    assert job.calls_per_s <= allowed_calls_per_s(limits)


def test_water_level_fills_the_cheapest_first() -> None:
    """Wants of 1, 2 and 10 with 7 to share: the first two keep theirs, the third gets 4."""
    assert water_level([1, 2, 10], 7) == 4
    assert water_level([1, 2], 7) == float("inf")


@given(
    wants=st.lists(
        st.tuples(st.integers(1, 300), st.floats(0.1, 86_400), st.sampled_from([0.1, 1, 300])),
        min_size=1,
        max_size=8,
    ),
    per_window=st.integers(1, 1000),
    window=st.floats(1, 120),
    monthly=st.one_of(st.none(), st.integers(1000, 10**7)),
)
def test_a_plan_never_spends_more_than_it_may(
    wants: list[tuple[int, float, float]], per_window: int, window: float, monthly: int | None
) -> None:
    """Whatever is wanted, the plan stays within half the ceiling and 90 % of the month, and
    never runs a job more often than it asked."""
    limits = BudgetLimits(per_window, window, monthly)
    demands = [JobDemand(f"job{i}", c, i_s, step) for i, (c, i_s, step) in enumerate(wants)]
    result = plan_calls(demands, limits)
    assert sum(j.calls_per_s for j in result.jobs) <= allowed_calls_per_s(limits) * (1 + 1e-9)
    assert all(j.interval_s >= d.interval_s for j, d in zip(result.jobs, demands, strict=True))
