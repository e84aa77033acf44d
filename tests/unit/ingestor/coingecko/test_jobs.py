"""CoinGecko jobs: grouping, the shared clock grid, and lease TTLs that make one run a slot."""

from __future__ import annotations

from marketpulse_common.settings import load_settings
from marketpulse_ingestor.coingecko.jobs import cadence_for, plan_for
from marketpulse_ingestor.coingecko.plan import upstream_config
from marketpulse_ingestor.coingecko.timeframe_recipes import recipe_for
from marketpulse_ingestor.schedule import grid_slot, grid_start


def cadence(timeframes: str):  # type: ignore[no-untyped-def]
    settings = load_settings(source="coingecko", timeframes=timeframes)
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
