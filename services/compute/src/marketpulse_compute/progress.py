"""How far the results of one candle got: the check that makes redelivery cheap and safe.

Each result of a candle event is stored at most once, and each has its own test: the
indicators and evaluation snapshots by their `ver` (newest candle described), the
forecast by its ledger entry and by the forecast snapshot's `ver`. A replica that died
half-way leaves some done and some not; whoever handles the event next does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from marketpulse_common.keys import Channel, ChannelKind, forecasts_key
from marketpulse_common.publisher import read_version
from marketpulse_common.timeframes import Timeframe


@dataclass(frozen=True, slots=True)
class Progress:
    indicators: bool  # a snapshot of this candle or a newer one is stored
    forecast_recorded: bool  # the ledger has this candle's forecast
    forecast_published: bool
    evaluation: bool

    @property
    def complete(self) -> bool:
        return (
            self.indicators
            and self.forecast_recorded
            and self.forecast_published
            and self.evaluation
        )

    @property
    def forecasting_done(self) -> bool:
        return self.forecast_recorded and self.forecast_published and self.evaluation


async def read_progress(redis: Redis, asset: str, tf: Timeframe, t: int) -> Progress:
    """What is already stored for the candle opened at `t`."""

    async def covers(kind: ChannelKind) -> bool:
        ver = await read_version(redis, Channel(kind, asset, tf))
        return ver is not None and ver >= t

    return Progress(
        indicators=await covers(ChannelKind.INDICATORS),
        forecast_recorded=bool(await redis.hexists(forecasts_key(asset, tf), str(t))),
        forecast_published=await covers(ChannelKind.FORECAST),
        evaluation=await covers(ChannelKind.EVALUATION),
    )
