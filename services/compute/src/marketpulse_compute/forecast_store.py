"""The forecast ledger: one stored Forecast per asset, timeframe and candle, written once.

A hash per asset/timeframe (keys.forecasts_key) maps a candle's open time to its Forecast
JSON. Every write is HSETNX inside one script, so whichever replica records a candle
first wins and every later attempt (a redelivery, a replica racing on the same candle, a
backtest filling history) leaves it untouched: one result per candle, however events
arrive. The script then returns what is stored for the candle being handled, so the value
published is always the recorded one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from pydantic import ValidationError
from redis.asyncio import Redis

from marketpulse_common.events import Forecast, encode_payload
from marketpulse_common.keys import forecasts_key
from marketpulse_common.logs import get_logger
from marketpulse_common.timeframes import Timeframe

log = get_logger(__name__)

# Forecasts kept per asset/timeframe, at ~3 kB each (~3 MB per asset/timeframe). It must be
# at least handler.HISTORY_SIZE: every candle a handler reads keeps its forecast, so the
# backtest never recomputes what retention dropped and the evaluation sees all it can score.
RECORD_RETENTION = 1000
# Trimming sorts the hash's fields; letting it run over by this much first means it sorts
# once every 50 candles rather than on every one.
TRIM_SLACK = 50
# Like the snapshots (publisher.SNAPSHOT_TTL_S): an asset dropped from MP_ASSETS leaves
# nothing behind for ever.
RECORD_TTL_S = 14 * 24 * 3600

_RECORD_LUA = """
local written = 0
for i = 4, #ARGV, 2 do
  written = written + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
end
local keep = tonumber(ARGV[1])
local size = redis.call('HLEN', KEYS[1])
if size > keep + tonumber(ARGV[2]) then
  local fields = redis.call('HKEYS', KEYS[1])
  table.sort(fields, function(a, b) return tonumber(a) < tonumber(b) end)
  for i = 1, size - keep do redis.call('HDEL', KEYS[1], fields[i]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {written, redis.call('HGET', KEYS[1], ARGV[#ARGV - 1]) or false}
"""


class ForecastStore:
    def __init__(self, redis: Redis, *, retention: int = RECORD_RETENTION) -> None:
        self._redis = redis
        self._retention = retention
        self._script = redis.register_script(_RECORD_LUA)

    async def record(
        self, asset: str, tf: Timeframe, forecasts: Sequence[Forecast]
    ) -> tuple[int, Forecast | None]:
        """Store each forecast unless its candle has one; returns (how many were new, what
        is now stored for the last forecast's candle)."""
        if not forecasts:
            return 0, None
        args: list[str | int] = [self._retention, TRIM_SLACK, RECORD_TTL_S]
        for forecast in forecasts:
            args += [forecast.origin, encode_payload(forecast)]
        written, stored = await self._script(keys=[forecasts_key(asset, tf)], args=args)
        return int(written), _decode(stored)

    async def get(self, asset: str, tf: Timeframe, origin: int) -> Forecast | None:
        raw = await self._redis.hget(forecasts_key(asset, tf), str(origin))
        return _decode(cast(str | None, raw))

    async def origins(self, asset: str, tf: Timeframe) -> set[int]:
        """Open times of every candle that has a recorded forecast."""
        return {int(field) for field in await self._redis.hkeys(forecasts_key(asset, tf))}

    async def all(self, asset: str, tf: Timeframe) -> list[Forecast]:
        """Every recorded forecast, oldest candle first."""
        values = cast(list[str], await self._redis.hvals(forecasts_key(asset, tf)))
        forecasts = []
        for value in values:
            try:
                forecasts.append(Forecast.model_validate_json(value))
            except ValidationError as e:
                # One bad record must not stop every evaluation after it; it is simply
                # not scored, and says so.
                log.warning("unreadable forecast record skipped", asset=asset, error=str(e))
        return sorted(forecasts, key=lambda f: f.origin)


def _decode(raw: str | None) -> Forecast | None:
    return None if not raw else Forecast.model_validate_json(raw)
