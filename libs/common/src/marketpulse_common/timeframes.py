"""Candle timeframes and their arithmetic on UTC epoch seconds."""

from __future__ import annotations

from enum import StrEnum


class Timeframe(StrEnum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        return _SECONDS[self]

    def floor(self, ts: float) -> int:
        """Open time of the candle that contains `ts` (candles align to UTC epoch multiples)."""
        return int(ts) // self.seconds * self.seconds

    def last_closed_open(self, now: float) -> int:
        """Open time of the newest candle that has fully closed at `now`."""
        return self.floor(now) - self.seconds


_SECONDS: dict[Timeframe, int] = {
    Timeframe.M1: 60,
    Timeframe.M5: 300,
    Timeframe.M15: 900,
    Timeframe.H1: 3600,
    Timeframe.H4: 14400,
    Timeframe.D1: 86400,
}
