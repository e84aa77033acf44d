"""The seam between the ingestor and where market data comes from.

Two sources sit behind it: the offline simulator (`MP_SOURCE=simulated`) and CoinGecko.
Everything else in the ingestor (storing, publishing, scheduling) is written against this
protocol only.
"""

from __future__ import annotations

from typing import Protocol

from marketpulse_common.events import Candle, Ticker
from marketpulse_common.timeframes import Timeframe


class MarketSource(Protocol):
    @property
    def name(self) -> str:
        """Short source name for logs and status records (`simulated`, `coingecko`)."""
        ...

    async def market_time(self) -> int:
        """Now on this source's clock (epoch seconds): wall time upstream, simulated offline."""
        ...

    async def tickers(self, now: int) -> list[Ticker]:
        """The latest ticker of every tracked asset as of `now`."""
        ...

    async def closed_candles(
        self, asset: str, tf: Timeframe, *, since_open: int, now: int
    ) -> list[Candle]:
        """Candles opened after `since_open` and closed by `now`, oldest first.

        Callers still filter the result (candle_rules.closed_aligned): a source may return a
        little more, e.g. the candle that is still open.
        """
        ...

    async def aclose(self) -> None:
        """Release whatever the source holds (HTTP clients, threads)."""
        ...
