"""The schedule of upstream calls that fits the budget: computed once at start, logged. Pure.

Each scheduled job wants a cadence (tickers every minute, a candle job once per candle) and
costs a known number of calls per run. The plan gives the jobs at most half the per-minute
ceiling (the rest is for the backfill, gap repair, retries and circuit probes) and at most
90 % of the monthly credits spread over a 30-day month.

When the wanted cadence costs more, the plan slows the *expensive* jobs first ("water
filling"): every job may spend up to a common level λ; jobs that want less than λ keep their
cadence, the others are slowed to exactly λ. On the demo plan's 10,000 credits a month this
keeps 1h/4h/1d candles on time and stretches tickers and 5m candles, instead of making the
daily candle arrive once a week. Candle jobs are stretched in whole timeframes, so they still
run just after a close.

The plan depends only on the settings, so every replica computes the same one and schedules
the same runs on the same clock grid (a job then runs once per slot, on whichever replica
takes its lease first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from marketpulse_ingestor.budget import BudgetLimits

USABLE_SHARE = 0.5
MONTHLY_SHARE = 0.9
MONTH_S = 30 * 86_400.0


@dataclass(frozen=True, slots=True)
class JobDemand:
    name: str
    calls_per_run: int
    interval_s: float  # the cadence the job wants
    step_s: float  # the planned interval is a whole multiple of this


@dataclass(frozen=True, slots=True)
class PlannedJob:
    name: str
    calls_per_run: int
    interval_s: float
    wanted_s: float

    @property
    def calls_per_s(self) -> float:
        return self.calls_per_run / self.interval_s


@dataclass(frozen=True, slots=True)
class CallPlan:
    jobs: tuple[PlannedJob, ...]
    limits: BudgetLimits

    @property
    def calls_per_minute(self) -> float:
        return 60.0 * sum(job.calls_per_s for job in self.jobs)

    @property
    def calls_per_month(self) -> float:
        return MONTH_S * sum(job.calls_per_s for job in self.jobs)

    def interval(self, name: str) -> float:
        return next(job.interval_s for job in self.jobs if job.name == name)

    def stretched(self) -> list[PlannedJob]:
        return [job for job in self.jobs if job.interval_s > job.wanted_s]

    def describe(self) -> str:
        ceiling = self.limits.calls_per_minute
        parts = [f"{job.name} every {_duration(job.interval_s)}" for job in self.jobs]
        text = f"{self.calls_per_minute:.2f} calls/min planned of {ceiling:g}"
        if self.limits.monthly_calls is not None:
            month = f"{self.calls_per_month:,.0f} calls/month of {self.limits.monthly_calls:,}"
            text = f"{text}, {month}"
        return f"{text} ({'; '.join(parts)})"


def allowed_calls_per_s(limits: BudgetLimits) -> float:
    allowed = USABLE_SHARE * limits.calls_per_window / limits.window_s
    if limits.monthly_calls is not None:
        allowed = min(allowed, MONTHLY_SHARE * limits.monthly_calls / MONTH_S)
    return allowed


def water_level(wants: Sequence[float], allowed: float) -> float:
    """The largest λ with sum(min(w, λ)) <= allowed (inf when everything fits)."""
    if sum(wants) <= allowed:
        return math.inf
    remaining = allowed
    ordered = sorted(wants)
    for i, want in enumerate(ordered):
        share = remaining / (len(ordered) - i)
        if want > share:
            return share
        remaining -= want
    return math.inf  # unreachable: the sum exceeded `allowed`


def plan_calls(demands: Sequence[JobDemand], limits: BudgetLimits) -> CallPlan:
    wants = [d.calls_per_run / d.interval_s for d in demands]
    level = water_level(wants, allowed_calls_per_s(limits))
    jobs = []
    for demand, want in zip(demands, wants, strict=True):
        interval = demand.interval_s
        if want > level:
            interval = demand.calls_per_run / level if level > 0 else MONTH_S
        steps = math.ceil(interval / demand.step_s - 1e-9)
        jobs.append(
            PlannedJob(
                demand.name,
                demand.calls_per_run,
                max(demand.step_s * steps, demand.interval_s),
                demand.interval_s,
            )
        )
    return CallPlan(tuple(jobs), limits)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
