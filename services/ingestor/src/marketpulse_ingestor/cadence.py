"""Which jobs an ingestor runs, and how often: the part of the schedule that depends on the
source (the offline simulator polls every second; CoinGecko follows its call plan)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.schedule import JobSpec


@dataclass(frozen=True, slots=True)
class CandleJob:
    spec: JobSpec
    timeframes: tuple[Timeframe, ...]


@dataclass(frozen=True, slots=True)
class GapRepairJob:
    """Looks for holes in the cached windows and asks the source for them again."""

    spec: JobSpec
    max_fetches: int
    # Per timeframe: a cache lacking a candle closed longer ago than this counts as left
    # behind (by then its scheduled run should have cached it).
    lag_grace_s: Mapping[Timeframe, int]


@dataclass(frozen=True, slots=True)
class Cadence:
    tickers: JobSpec
    candles: tuple[CandleJob, ...]
    gap_repair: GapRepairJob | None = None
    # True: the backfill rewrites every history window at start (cheap offline). False: it
    # fetches only what the cache lacks, because every upstream call costs budget.
    full_backfill: bool = True
