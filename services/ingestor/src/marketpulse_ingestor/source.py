"""The seam between the ingestor and where market data comes from.

Two sources sit behind it: the offline simulator (`MP_SOURCE=simulated`) and CoinGecko.
Everything else in the ingestor (storing, publishing, scheduling) is written against this
protocol only.
"""

from __future__ import annotations

from typing import Protocol

from marketpulse_common.events import Candle, Ticker
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.cadence import Cadence


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

        `now` may lie in the past, to ask for an older stretch (a hole, the far end of the
        history). Callers still filter the result (candle_rules.closed_aligned): a source may
        return a little more, e.g. the candle that is still open.
        """
        ...

    def reach(self, tf: Timeframe, now: int) -> int | None:
        """The oldest open time of `tf` the source can still deliver (None: any)."""
        ...

    def cadence(self) -> Cadence:
        """The jobs to schedule for this source and how often to run them."""
        ...

    async def aclose(self) -> None:
        """Release whatever the source holds (HTTP clients, threads)."""
        ...
