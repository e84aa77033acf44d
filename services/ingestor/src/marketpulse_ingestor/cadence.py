"""Which jobs an ingestor runs, and how often: the part of the schedule that depends on the
source (the offline simulator polls every second; CoinGecko follows its call plan)."""

from __future__ import annotations

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
    # A cache whose newest candle is this long past its next close counts as left behind.
    lag_grace_s: int


@dataclass(frozen=True, slots=True)
class Cadence:
    tickers: JobSpec
    candles: tuple[CandleJob, ...]
    gap_repair: GapRepairJob | None = None
    # True: the backfill rewrites every history window at start (cheap offline). False: it
    # fetches only what the cache lacks, because every upstream call costs budget.
    full_backfill: bool = True
