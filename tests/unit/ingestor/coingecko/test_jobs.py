"""CoinGecko jobs: grouping, the shared clock grid, and lease TTLs that make one run a slot."""

from __future__ import annotations

import math
from typing import Any

import pytest

from marketpulse_common.settings import load_settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.cadence import Cadence
from marketpulse_ingestor.candle_rules import left_behind
from marketpulse_ingestor.coingecko.jobs import cadence_for, plan_for
from marketpulse_ingestor.coingecko.plan import upstream_config
from marketpulse_ingestor.coingecko.timeframe_recipes import recipe_for
from marketpulse_ingestor.schedule import grid_slot, grid_start


def cadence(timeframes: str, **overrides: Any) -> Cadence:
    settings = load_settings(source="coingecko", timeframes=timeframes, **overrides)
    config = upstream_config(settings)
    recipes = {tf: recipe_for(config.facts, tf) for tf in settings.timeframes}
    return cadence_for(plan_for(config, settings), recipes, config, len(settings.assets))  # type: ignore[arg-type]


def test_5m_and_15m_share_one_job_on_the_5_minute_chart() -> None:
    """One chart call per asset serves both; other timeframes have a job each."""
    jobs = {job.spec.name: job.timeframes for job in cadence("5m,15m,1h,1d").candles}
    assert set(jobs) == {"candles:5m,15m", "candles:1h", "candles:1d"}


def test_candle_jobs_run_just_after_each_close() -> None:
    """The 5m job runs at every 5-minute boundary plus the chart's settle time."""
    [job] = cadence("5m").candles
    assert (job.spec.interval_s, job.spec.phase_s) == (300, 60)
    assert grid_start(300, 60, 1_790_000_101) == 1_790_000_160


def test_leases_outlast_the_jitter_and_lapse_before_the_next_slot() -> None:
    """Replicas firing the same slot a jitter apart find it taken; a dead holder's lease is
    gone before the next slot."""
    schedule = cadence("5m,1h,4h,1d")
    specs = [schedule.tickers, *(j.spec for j in schedule.candles)]
    assert schedule.gap_repair is not None
    specs.append(schedule.gap_repair.spec)
    for spec in specs:
        assert spec.phase_s is not None
        assert spec.jitter_s < spec.lease_ttl_s < spec.interval_s


def test_the_backfill_fetches_only_what_is_missing() -> None:
    """Every upstream call costs budget: no rewriting of whole windows at start."""
    assert cadence("1h").full_backfill is False


def test_grid_start_is_the_next_grid_point() -> None:
    """k * interval + phase, at or after now."""
    assert grid_start(10, 3, 100) == 103
    assert grid_start(10, 3, 103) == 103
    assert grid_start(0.5, 0, 10.2) == 10.5


def test_a_run_belongs_to_its_nearest_grid_slot() -> None:
    """A run late (or a clock off) by under half an interval still claims its own slot."""
    assert grid_slot(10, 3, 103) == 10
    assert grid_slot(10, 3, 107.9) == 10
    assert grid_slot(10, 3, 98.2) == 10
    assert grid_slot(10, 3, 108.1) == 11


MONTH_S = 30 * 86_400
KEY = "CG-unit-test-key-123456"


def refetches_in_a_month(cadence: Cadence, missed: frozenset[float] = frozenset()) -> int:
    """Caches the gap repair would call left behind over 30 days (one call each), with every
    candle job run on its grid caching what had settled by then, except the runs at `missed`
    (the upstream was late): the calls it adds to the plan's."""
    assert cadence.gap_repair is not None
    gaps = cadence.gap_repair
    refetches = 0
    for job in cadence.candles:
        interval, phase = job.spec.interval_s, job.spec.phase_s or 0.0
        for tf in job.timeframes:
            t = grid_start(gaps.spec.interval_s, gaps.spec.phase_s or 0.0, 0.0)
            while t < MONTH_S:
                run = math.floor((t - phase) / interval) * interval + phase
                while run in missed:
                    run -= interval
                newest = tf.last_closed_open(run - phase)
                now = int(t + gaps.spec.jitter_s)
                refetches += left_behind(newest, tf, now, gaps.lag_grace_s[tf])
                t += gaps.spec.interval_s
    return refetches


@pytest.mark.parametrize("plan", ["public", "demo"])
@pytest.mark.parametrize("timeframes", ["5m,1h,4h,1d", "5m,15m,1h,1d", "15m,4h"])
def test_the_gap_repair_never_refetches_a_cache_its_job_keeps_up(
    plan: str, timeframes: str
) -> None:
    """A job stretched by the plan (5m candles every 45 min on the demo's 10,000 a month)
    looks behind between its runs to a grace sized for on-time jobs: the gap repair
    re-fetched it every 15 minutes, ~5,800 calls a month on top of the plan's ~8,800.
    Each timeframe's grace now follows its own job's cadence."""
    key = {"coingecko_api_key": KEY} if plan == "demo" else {}
    schedule = cadence(timeframes, coingecko_plan=plan, **key)
    assert refetches_in_a_month(schedule) == 0


def test_a_cache_whose_run_found_nothing_is_refetched_before_its_next_run() -> None:
    """The daily job's run at a close found the upstream late: the gap repair fetches the
    day's candle within the hour, not a day later at the next run."""
    schedule = cadence("1d")
    [job] = schedule.candles
    gaps = schedule.gap_repair
    assert gaps is not None and gaps.spec.phase_s is not None
    missed_run = 20_000 * 86_400 + (job.spec.phase_s or 0.0)
    newest = Timeframe.D1.last_closed_open(missed_run - job.spec.interval_s)  # the day before
    first_gap_run = grid_start(gaps.spec.interval_s, gaps.spec.phase_s, missed_run)
    checks = [first_gap_run + k * gaps.spec.interval_s for k in range(4)]
    assert checks[-1] < missed_run + 3600
    assert any(
        left_behind(newest, Timeframe.D1, int(t), gaps.lag_grace_s[Timeframe.D1]) for t in checks
    )
