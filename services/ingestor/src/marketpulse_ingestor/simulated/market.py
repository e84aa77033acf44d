"""The offline market behind `MP_SOURCE=simulated`: seeded candles and tickers, no I/O.

The caller owns the clock and passes market time in; this module never reads it. Each
asset has one minute path (see price_model), generated lazily in whole UTC days, and
every candle of every timeframe is an aggregation of it, so timeframes agree with each
other and the backfilled history joins the live candles without a seam.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from marketpulse_common.events import Candle, Ticker
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.errors import UnknownAssetError
from marketpulse_ingestor.simulated.price_model import (
    MINUTES_PER_DAY,
    SECONDS_PER_DAY,
    MinuteBars,
    PriceProcess,
    ProcessState,
    asset_profile,
    derive_seed,
)

_MINUTE = 60

# Rough fixed rates so a non-USD quote currency still shows plausible magnitudes.
_QUOTE_PER_USD = {"usd": 1.0, "usdt": 1.0, "usdc": 1.0, "eur": 0.92, "gbp": 0.79, "jpy": 150.0}

# Enough daily candles for a 500-deep 1d backfill, with a little to spare.
DEFAULT_HISTORY_DAYS = 512


@dataclass(frozen=True)
class _Ohlcv:
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.float64]

    def aggregate(self, minutes: int) -> _Ohlcv:
        """Consecutive groups of `minutes` rows folded into one row each."""

        def rows(values: NDArray[np.float64]) -> NDArray[np.float64]:
            return values.reshape(-1, minutes)

        return _Ohlcv(
            open=rows(self.open)[:, 0],
            high=rows(self.high).max(axis=1),
            low=rows(self.low).min(axis=1),
            close=rows(self.close)[:, -1],
            volume=rows(self.volume).sum(axis=1),
        )


class _AssetPath:
    """The retained minute path of one asset: whole days, extended on demand, trimmed."""

    def __init__(self, process: PriceProcess, first_day: int, retain_days: int) -> None:
        self._process = process
        self._retain_days = retain_days
        self._state = ProcessState.initial(process.profile)
        self._next_day = first_day
        self.first_time = first_day * SECONDS_PER_DAY
        self._first_open = self._state.close
        self._bars = MinuteBars(
            close=np.empty(0, np.float64),
            wick_high=np.empty(0, np.float32),
            wick_low=np.empty(0, np.float32),
            volume=np.empty(0, np.float32),
        )

    def cover(self, until: int) -> None:
        """Make sure every minute that closes at or before `until` exists."""
        last_day = (until - 1) // SECONDS_PER_DAY
        while self._next_day <= last_day:
            # At most a retention's worth per call, so a long jump in market time never
            # holds more than twice the retained path in memory.
            n_days = min(last_day - self._next_day + 1, self._retain_days)
            generated = self._process.generate(self._state, self._next_day, n_days)
            self._state = generated.state
            self._next_day += n_days
            self._append(generated.bars)

    def _append(self, new: MinuteBars) -> None:
        old = self._bars
        days = (len(old.close) + len(new.close)) // MINUTES_PER_DAY
        drop = max(0, days - self._retain_days) * MINUTES_PER_DAY  # <= len(old): see cover
        if drop:
            self._first_open = float(old.close[drop - 1])
            self.first_time += drop * _MINUTE
        pairs = zip(_fields(old), _fields(new), strict=True)
        self._bars = MinuteBars(*(np.concatenate([kept[drop:], added]) for kept, added in pairs))

    def minutes(self, start: int, count: int) -> _Ohlcv:
        """OHLCV of the `count` minutes from market time `start` (which must be retained)."""
        i = (start - self.first_time) // _MINUTE
        if i < 0 or i + count > len(self._bars.close):
            raise ValueError("minutes outside the retained path")
        close = self._bars.close[i : i + count]
        before = self._bars.close[i - 1] if i > 0 else self._first_open
        opens = np.concatenate([[before], close[:-1]])
        high_wick = np.exp(self._bars.wick_high[i : i + count].astype(np.float64))
        low_wick = np.exp(-self._bars.wick_low[i : i + count].astype(np.float64))
        return _Ohlcv(
            open=opens,
            high=np.maximum(opens, close) * high_wick,
            low=np.minimum(opens, close) * low_wick,
            close=close,
            volume=self._bars.volume[i : i + count].astype(np.float64),
        )


def _fields(bars: MinuteBars) -> list[NDArray[np.generic]]:
    return [getattr(bars, f.name) for f in dataclasses.fields(bars)]


class SimulatedMarket:
    """A seeded, deterministic market over `assets`; market time starts at `start`."""

    def __init__(
        self,
        assets: Sequence[str],
        *,
        seed: int,
        vs_currency: str,
        start: int,
        history_days: int = DEFAULT_HISTORY_DAYS,
    ) -> None:
        if history_days < 1:
            raise ValueError("history_days must be at least 1")
        first_day = start // SECONDS_PER_DAY - history_days
        if first_day < 0:
            raise ValueError("start leaves no room for history after the epoch")
        fx = _QUOTE_PER_USD.get(vs_currency, 1.0)
        self._vs_currency = vs_currency
        self._start = start
        self._now = start
        self._supply: dict[str, float] = {}
        self._paths: dict[str, _AssetPath] = {}
        for asset in assets:
            profile = asset_profile(seed, asset)
            profile = dataclasses.replace(profile, price=profile.price * fx)
            process = PriceProcess(profile, derive_seed(seed, asset, "path"))
            self._supply[asset] = profile.supply
            self._paths[asset] = _AssetPath(process, first_day, history_days + 1)

    @property
    def now(self) -> int:
        """Current market time, epoch seconds."""
        return self._now

    def advance(self, now: int) -> None:
        """Move market time forward; paths extend lazily when next read."""
        self._now = max(self._now, now)

    def backfill(self, asset: str, tf: Timeframe, depth: int) -> list[Candle]:
        """The last `depth` candles of `tf` closed at `start` (fewer if history is shorter)."""
        last_open = tf.last_closed_open(self._start)
        return self._candles(asset, tf, last_open - (depth - 1) * tf.seconds, last_open)

    def closed_candles(self, asset: str, tf: Timeframe, since_open: int) -> list[Candle]:
        """Candles opened after `since_open` and closed by now, oldest first."""
        first_open = tf.floor(since_open) + tf.seconds
        return self._candles(asset, tf, first_open, tf.last_closed_open(self._now))

    def ticker(self, asset: str) -> Ticker:
        """The price at the last closed minute, with stats over the trailing 24 h."""
        path = self._path(asset)
        last_minute = self._now // _MINUTE * _MINUTE
        day_start = max(last_minute - SECONDS_PER_DAY, path.first_time)
        n_minutes = (last_minute - day_start) // _MINUTE
        day = path.minutes(day_start, n_minutes).aggregate(n_minutes)
        price = float(day.close[0])
        return Ticker(
            asset=asset,
            vs_currency=self._vs_currency,
            price=price,
            change_24h_pct=(price / float(day.open[0]) - 1.0) * 100.0,
            high_24h=float(day.high[0]),
            low_24h=float(day.low[0]),
            volume_24h=float(day.volume[0]),
            market_cap=price * self._supply[asset],
            last_updated=datetime.fromtimestamp(self._now, tz=UTC),
        )

    def _path(self, asset: str) -> _AssetPath:
        try:
            path = self._paths[asset]
        except KeyError:
            raise UnknownAssetError(f"asset {asset!r} is not simulated") from None
        path.cover(self._now)
        return path

    def _candles(self, asset: str, tf: Timeframe, first_open: int, last_open: int) -> list[Candle]:
        path = self._path(asset)
        first_open = max(first_open, path.first_time)  # first_time is day-, so tf-aligned
        count = (last_open - first_open) // tf.seconds + 1
        if count <= 0:
            return []
        per_candle = tf.seconds // _MINUTE
        bars = path.minutes(first_open, count * per_candle).aggregate(per_candle)
        return [
            Candle(t=first_open + k * tf.seconds, o=o, h=h, l=lo, c=c, v=v)
            for k, (o, h, lo, c, v) in enumerate(
                zip(
                    bars.open.tolist(),
                    bars.high.tolist(),
                    bars.low.tolist(),
                    bars.close.tolist(),
                    bars.volume.tolist(),
                    strict=True,
                )
            )
        ]
