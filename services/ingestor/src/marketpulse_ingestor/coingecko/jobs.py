"""The CoinGecko jobs: what each costs, the plan that fits the budget, and their grid. Pure.

Jobs and their wanted cadence (before call_plan slows what the budget cannot afford):

- `tickers`: one /coins/markets call for up to 250 assets, every plan ticker interval;
- `candles:<tf>`: one call per asset just after each close of `tf` (+ the feed's settle
  time); 5m and 15m share one job, since one 5-minutely chart serves both;
- `gaps`: every 15 budget windows, re-asks for holes and for caches the upstream left behind
  (still lacking a candle after their own job's run should have cached it: lag_grace);
  not planned (it is usually idle), it spends the half of the ceiling the plan leaves free.

Every job runs on the shared grid (JobSpec.phase_s), with a little jitter and a lease TTL
that outlasts the jitter, so replicas fire together and one of them runs each slot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from marketpulse_common.settings import Settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.cadence import Cadence, CandleJob, GapRepairJob
from marketpulse_ingestor.call_plan import CallPlan, JobDemand, plan_calls
from marketpulse_ingestor.coingecko.plan import UpstreamConfig
from marketpulse_ingestor.coingecko.timeframe_recipes import Feed, Recipe, recipe_for
from marketpulse_ingestor.schedule import JobSpec

MARKETS_PAGE = 250
GAP_REPAIR_WINDOWS = 15
# The most holes one repair run asks for, per asset tracked.
GAP_FETCHES_PER_ASSET = 2
MAX_JITTER_S = 2.0
# Time a scheduled candle run may take (its calls are paced by the budget) before its cache
# counts as left behind.
RUN_ALLOWANCE_S = 120


def candle_groups(
    timeframes: list[Timeframe], recipes: Mapping[Timeframe, Recipe]
) -> list[list[Timeframe]]:
    """Timeframes refreshed by one job: those on the 5-minutely chart together, others alone."""
    shared = [tf for tf in timeframes if recipes[tf].feed is Feed.RECENT_SAMPLES]
    alone = [[tf] for tf in timeframes if recipes[tf].feed is not Feed.RECENT_SAMPLES]
    return ([shared] if shared else []) + alone


def job_name(group: list[Timeframe]) -> str:
    return "candles:" + ",".join(tf.value for tf in group)


def demands(config: UpstreamConfig, settings: Settings) -> list[JobDemand]:
    assets = len(settings.assets)
    recipes = {tf: _recipe(config, tf) for tf in settings.timeframes}
    ticker_s = config.ticker_interval_s
    wanted = [
        JobDemand(
            "tickers", math.ceil(assets / MARKETS_PAGE), ticker_s, 1.0 if ticker_s >= 10 else 0.1
        )
    ]
    for group in candle_groups(list(settings.timeframes), recipes):
        step = float(group[0].seconds)
        wanted.append(JobDemand(job_name(group), assets, step, step))
    return wanted


def plan_for(config: UpstreamConfig, settings: Settings) -> CallPlan:
    return plan_calls(demands(config, settings), config.limits)


def cadence_for(
    plan: CallPlan, recipes: Mapping[Timeframe, Recipe], config: UpstreamConfig, assets: int
) -> Cadence:
    timeframes = list(recipes)
    candles = tuple(
        CandleJob(_candle_spec(plan, group, recipes[group[0]]), tuple(group))
        for group in candle_groups(timeframes, recipes)
    )
    gap_s = GAP_REPAIR_WINDOWS * config.limits.window_s
    gaps = GapRepairJob(
        _spec("gaps", gap_s, gap_s / 2),
        max_fetches=GAP_FETCHES_PER_ASSET * assets,
        lag_grace_s={tf: lag_grace(job.spec, tf) for job in candles for tf in job.timeframes},
    )
    return Cadence(
        tickers=_spec("tickers", plan.interval("tickers"), 0.0),
        candles=candles,
        gap_repair=gaps,
        full_backfill=False,
    )


def lag_grace(job: JobSpec, tf: Timeframe) -> int:
    """How long after a close its candle may take to be cached by `job`, which runs every
    interval at its phase (the feed's settle time) past the grid: a close between two runs
    waits for the next one, up to interval - gcd(interval, tf) when the two grids meet only
    every so often (a 20-minute job and 15-minute candles: 15 min), plus the phase and a
    run's own length. One grace for all (the longest settle time) made the gap repair
    re-fetch a stretched job's cache between its runs, calls the plan never counted."""
    interval = round(job.interval_s)
    phase = round(job.phase_s or 0)
    return phase + interval - math.gcd(interval, tf.seconds) + RUN_ALLOWANCE_S


def _candle_spec(plan: CallPlan, group: list[Timeframe], recipe: Recipe) -> JobSpec:
    name = job_name(group)
    return _spec(name, plan.interval(name), recipe.facts.settle_s)


def _spec(name: str, interval_s: float, phase_s: float) -> JobSpec:
    jitter = min(MAX_JITTER_S, interval_s / 20)
    # Outlasts the other replicas' jittered firings of the same slot (and a little clock
    # skew), yet lapses well before the next slot if the holder dies.
    ttl = jitter + min(10.0, interval_s / 2)
    return JobSpec(name, interval_s=interval_s, lease_ttl_s=ttl, jitter_s=jitter, phase_s=phase_s)


def _recipe(config: UpstreamConfig, tf: Timeframe) -> Recipe:
    recipe = recipe_for(config.facts, tf)
    if recipe is None:  # check_timeframes refused these at start
        raise ValueError(f"no recipe for {tf.value}")
    return recipe
