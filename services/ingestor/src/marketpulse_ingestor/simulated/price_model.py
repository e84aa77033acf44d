"""The simulated price process: Markov regimes, GARCH(1,1) volatility, jumps and volume.

A path is generated in whole UTC days. Each day draws only from its own generator, keyed by
(asset seed, epoch day), and starts from the state the previous day ended in, so generating
one day at a time or a year at once yields the same path bit for bit.

Regimes, variance and jumps evolve hourly: a Python loop over ~12k hours per 500 days is
cheap, a loop over minutes is not. Each hour's diffusion is spread over 60 minute draws
whose scaled sum is exactly the hour's shock, so both resolutions describe one path.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from enum import IntEnum
from itertools import accumulate

import numpy as np
from numpy.typing import NDArray

MINUTES_PER_HOUR = 60
HOURS_PER_DAY = 24
MINUTES_PER_DAY = MINUTES_PER_HOUR * HOURS_PER_DAY
SECONDS_PER_DAY = 86_400
_HOURS_PER_YEAR = 365 * HOURS_PER_DAY
_SQRT_MINUTES = math.sqrt(MINUTES_PER_HOUR)

# GARCH(1,1) on hourly shocks; alpha + beta = 0.98 gives vol bursts a half-life of about
# a day and a half, in line with hourly fits on BTC. Floor and cap (multiples of the
# long-run variance) stop a cluster of jumps from compounding into absurd volatility.
_GARCH_ALPHA = 0.08
_GARCH_BETA = 0.90
_VARIANCE_FLOOR = 0.2
_VARIANCE_CAP = 25.0

# Drift per hour, in units of the long-run hourly sigma: a 36 h trend moves ~7 sigmas
# (~5 % for bitcoin), as much as a day's noise: visible, yet not a straight line.
_TREND_DRIFT = 0.2
# Pull per hour towards the level a range started at: half-life ~17 h.
_RANGE_PULL = 0.04
# Pull per hour towards the profile's price: weak (half-life ~6 weeks) so trends play out,
# yet it keeps a path spanning years within a sane band (bitcoin over 500 days: typically
# a 3x range between low and high) instead of an unbounded random walk.
_ANCHOR_PULL = 1.0 / (60 * HOURS_PER_DAY)

# About one jump a fortnight, sized like a liquidation cascade (~4 % for bitcoin).
_JUMP_PROBABILITY = 0.003
_JUMP_SCALE = 5.0

# Intra-minute wicks, in units of the minute's sigma.
_WICK_SCALE = 0.6
# Volume scales with volatility and with the minute's absolute surprise; lognormal noise
# on top keeps it from being a deterministic function of the price.
_VOLUME_VOL_ELASTICITY = 1.0
_VOLUME_SURPRISE_WEIGHT = 0.6
_VOLUME_NOISE = 0.35
_MEAN_ABS_NORMAL = math.sqrt(2.0 / math.pi)


class Regime(IntEnum):
    RANGE = 0
    UP = 1
    DOWN = 2


# Rows: from (RANGE, UP, DOWN); columns: to. Ranges last ~3 days and break out either way;
# trends last ~1.5 days and usually stall into a range rather than reverse.
_TRANSITIONS = (
    (1 - 1 / 72, 0.5 / 72, 0.5 / 72),
    (0.8 / 36, 1 - 1 / 36, 0.2 / 36),
    (0.8 / 36, 0.2 / 36, 1 - 1 / 36),
)
_CUMULATIVE = tuple(tuple(accumulate(row)) for row in _TRANSITIONS)


@dataclass(frozen=True)
class AssetProfile:
    """The scale of one simulated asset, in the quote currency."""

    price: float  # price at the first minute of generated history
    annual_vol: float  # of the diffusion; trends and jumps add about a sixth on top
    supply: float  # circulating supply, for the market cap
    daily_turnover: float  # fraction of the supply traded per day

    @property
    def hourly_sigma(self) -> float:
        return self.annual_vol / math.sqrt(_HOURS_PER_YEAR)


_KNOWN_PROFILES = {
    "bitcoin": AssetProfile(price=60_000.0, annual_vol=0.6, supply=19.7e6, daily_turnover=0.03),
    "ethereum": AssetProfile(price=3_000.0, annual_vol=0.75, supply=120e6, daily_turnover=0.05),
    "solana": AssetProfile(price=150.0, annual_vol=1.0, supply=470e6, daily_turnover=0.04),
}


def derive_seed(seed: int, asset: str, purpose: str) -> int:
    """A 128-bit seed per (seed, asset, purpose); hashlib, because hash() is salted per run."""
    digest = hashlib.sha256(f"marketpulse-sim/{seed}/{asset}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:16], "big")


def asset_profile(seed: int, asset: str) -> AssetProfile:
    """A known asset's realistic scale, or a plausible one derived from the seed."""
    known = _KNOWN_PROFILES.get(asset)
    if known is not None:
        return known
    rng = np.random.default_rng(derive_seed(seed, asset, "profile"))
    return AssetProfile(
        price=float(10 ** rng.uniform(-1.0, 3.0)),
        annual_vol=float(rng.uniform(0.7, 1.4)),
        supply=float(10 ** rng.uniform(8.0, 10.5)),
        daily_turnover=float(rng.uniform(0.03, 0.10)),
    )


@dataclass(frozen=True)
class ProcessState:
    """Everything a day needs from the days before it."""

    log_price: float
    variance: float  # hourly
    regime: Regime
    level: float  # log price a range regime reverts to
    close: float  # last minute's close: the next minute's open

    @classmethod
    def initial(cls, profile: AssetProfile) -> ProcessState:
        log_price = math.log(profile.price)
        return cls(log_price, profile.hourly_sigma**2, Regime.RANGE, log_price, profile.price)


@dataclass(frozen=True)
class MinuteBars:
    """Consecutive minutes; the open of each is the close of the one before."""

    close: NDArray[np.float64]
    wick_high: NDArray[np.float32]  # log excursion of the high above max(open, close)
    wick_low: NDArray[np.float32]  # log excursion of the low below min(open, close)
    volume: NDArray[np.float32]  # in the quote currency


@dataclass(frozen=True)
class GeneratedDays:
    bars: MinuteBars
    regimes: NDArray[np.int8]  # one per hour
    state: ProcessState


@dataclass(frozen=True)
class _Draws:
    shock: NDArray[np.float64]  # (hours, 60) standard normals
    volume_noise: NDArray[np.float64]  # (hours, 60)
    wick_high: NDArray[np.float64]  # (hours, 60)
    wick_low: NDArray[np.float64]  # (hours, 60)
    regime_u: NDArray[np.float64]  # (hours,) uniforms
    jump_u: NDArray[np.float64]
    jump_at: NDArray[np.float64]
    jump_size: NDArray[np.float64]


@dataclass(frozen=True)
class _Hours:
    start: NDArray[np.float64]  # log price at the start of each hour
    drift: NDArray[np.float64]
    sigma: NDArray[np.float64]
    regime: NDArray[np.int8]


def _draw_day(entropy: int, day: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(day,))))
    minutes = rng.standard_normal((4, MINUTES_PER_DAY))
    hours = np.vstack([rng.random((3, HOURS_PER_DAY)), rng.standard_normal((1, HOURS_PER_DAY))])
    return minutes, hours


def _draw_days(entropy: int, first_day: int, n_days: int) -> _Draws:
    pairs = [_draw_day(entropy, day) for day in range(first_day, first_day + n_days)]
    minutes = np.concatenate([m for m, _ in pairs], axis=1).reshape(4, -1, MINUTES_PER_HOUR)
    hours = np.concatenate([h for _, h in pairs], axis=1)
    return _Draws(minutes[0], minutes[1], minutes[2], minutes[3], *hours)


def _next_regime(regime: int, u: float) -> int:
    for to, edge in enumerate(_CUMULATIVE[regime]):
        if u < edge:
            return to
    return regime  # u within rounding of 1.0


class _HourlyWalk:
    """Regime, variance and log price, hour by hour.

    Sequential by nature (each hour feeds on the last); plain floats keep the loop fast.
    """

    def __init__(self, state: ProcessState, sigma: float, anchor: float) -> None:
        self._sigma = sigma
        self._anchor = anchor
        self._omega = sigma**2 * (1.0 - _GARCH_ALPHA - _GARCH_BETA)
        self._variance_bounds = (_VARIANCE_FLOOR * sigma**2, _VARIANCE_CAP * sigma**2)
        self.log_price = state.log_price
        self.variance = state.variance
        self.regime = state.regime
        self.level = state.level

    def step(self, shock: float, u: float, jump: float) -> tuple[float, float, float, int]:
        """Advance one hour; returns the hour's (start log price, drift, sigma, regime)."""
        self._switch_regime(u)
        drift = self._drift()
        sigma = math.sqrt(self.variance)
        row = (self.log_price, drift, sigma, int(self.regime))
        surprise = sigma * shock + jump
        self.log_price += drift + surprise
        low, high = self._variance_bounds
        garch = self._omega + _GARCH_ALPHA * surprise**2 + _GARCH_BETA * self.variance
        self.variance = min(max(garch, low), high)
        return row

    def state(self, close: float) -> ProcessState:
        return ProcessState(self.log_price, self.variance, self.regime, self.level, close)

    def _switch_regime(self, u: float) -> None:
        regime = Regime(_next_regime(self.regime, u))
        if regime != self.regime and regime == Regime.RANGE:
            self.level = self.log_price  # a range oscillates around where the trend stalled
        self.regime = regime

    def _drift(self) -> float:
        drift = -_ANCHOR_PULL * (self.log_price - self._anchor)
        if self.regime == Regime.UP:
            return drift + _TREND_DRIFT * self._sigma
        if self.regime == Regime.DOWN:
            return drift - _TREND_DRIFT * self._sigma
        return drift - _RANGE_PULL * (self.log_price - self.level)


class PriceProcess:
    """Generates the minute path of one asset, day by day, from a carried state."""

    def __init__(self, profile: AssetProfile, entropy: int) -> None:
        self.profile = profile
        self._entropy = entropy
        self._sigma = profile.hourly_sigma
        self._anchor = math.log(profile.price)
        self._coins_per_minute = profile.supply * profile.daily_turnover / MINUTES_PER_DAY

    def generate(self, state: ProcessState, first_day: int, n_days: int) -> GeneratedDays:
        """The `n_days` days from epoch day `first_day` on, continuing from `state`."""
        draws = _draw_days(self._entropy, first_day, n_days)
        jumps = np.where(
            draws.jump_u < _JUMP_PROBABILITY, draws.jump_size * _JUMP_SCALE * self._sigma, 0.0
        )
        hour_shock = draws.shock.sum(axis=1) / _SQRT_MINUTES
        hours, walk = self._run_hours(state, hour_shock, draws.regime_u, jumps)
        log_returns = self._minute_log_returns(draws, hours, jumps)
        close = np.exp(hours.start[:, None] + np.cumsum(log_returns, axis=1)).ravel()
        bars = self._bars(draws, hours, log_returns, close)
        return GeneratedDays(bars, hours.regime, walk.state(close=float(close[-1])))

    def _run_hours(
        self,
        state: ProcessState,
        shocks: NDArray[np.float64],
        regime_u: NDArray[np.float64],
        jumps: NDArray[np.float64],
    ) -> tuple[_Hours, _HourlyWalk]:
        walk = _HourlyWalk(state, self._sigma, self._anchor)
        rows = [
            walk.step(shock, u, jump)
            for shock, u, jump in zip(
                shocks.tolist(), regime_u.tolist(), jumps.tolist(), strict=True
            )
        ]
        start, drift, sigma, regime = (np.array(col) for col in zip(*rows, strict=True))
        return _Hours(start, drift, sigma, regime.astype(np.int8)), walk

    @staticmethod
    def _minute_log_returns(
        draws: _Draws, hours: _Hours, jumps: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        returns = (
            hours.drift[:, None] / MINUTES_PER_HOUR
            + hours.sigma[:, None] / _SQRT_MINUTES * draws.shock
        )
        jump_minute = (draws.jump_at * MINUTES_PER_HOUR).astype(np.intp)
        returns[np.arange(len(jumps)), jump_minute] += jumps
        return returns

    def _bars(
        self,
        draws: _Draws,
        hours: _Hours,
        log_returns: NDArray[np.float64],
        close: NDArray[np.float64],
    ) -> MinuteBars:
        minute_sigma = hours.sigma[:, None] / _SQRT_MINUTES
        surprise = np.abs(log_returns - hours.drift[:, None] / MINUTES_PER_HOUR) / minute_sigma
        activity = (hours.sigma[:, None] / self._sigma) ** _VOLUME_VOL_ELASTICITY * (
            (1.0 + _VOLUME_SURPRISE_WEIGHT * surprise)
            / (1.0 + _VOLUME_SURPRISE_WEIGHT * _MEAN_ABS_NORMAL)
        )
        noise = np.exp(_VOLUME_NOISE * draws.volume_noise - _VOLUME_NOISE**2 / 2)
        coins = (self._coins_per_minute * activity * noise).ravel()
        return MinuteBars(
            close=close,
            wick_high=_wick(draws.wick_high, minute_sigma),
            wick_low=_wick(draws.wick_low, minute_sigma),
            volume=(coins * close).astype(np.float32),
        )


def _wick(draws: NDArray[np.float64], minute_sigma: NDArray[np.float64]) -> NDArray[np.float32]:
    return (np.abs(draws) * _WICK_SCALE * minute_sigma).ravel().astype(np.float32)
