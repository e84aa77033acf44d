"""The forecast ledger: one stored Forecast per asset, timeframe and candle, written once.

A hash per asset/timeframe (keys.forecasts_key) maps a candle's open time to its Forecast
JSON. Every write is HSETNX inside one script, so whichever replica records a candle
first wins and every later attempt (a redelivery, a replica racing on the same candle, a
backtest filling history) leaves it untouched: one result per candle, however events
arrive. The script then returns what is stored for the candle being handled, so the value
published is always the recorded one. Once the ledger is full it also refuses candles
older than its oldest entry (retention would drop them at once), so a field, once
written, never changes while the ledger exists, and readers may cache it (ledger.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TypeVar, cast

from pydantic import ValidationError
from redis.asyncio import Redis

from marketpulse_common.events import Forecast, encode_payload
from marketpulse_common.keys import forecasts_key
from marketpulse_common.logs import describe, get_logger
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.ledger import Ledger, LedgerEntry, Parsed

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
local keep = tonumber(ARGV[1])
local floor = nil
if redis.call('HLEN', KEYS[1]) >= keep then
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    local t = tonumber(f)
    if floor == nil or t < floor then floor = t end
  end
end
local written = 0
for i = 4, #ARGV, 2 do
  if floor == nil or tonumber(ARGV[i]) >= floor then
    written = written + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
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
        self._parsed: dict[tuple[str, Timeframe], Parsed] = {}

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
        """Every recorded forecast in full, oldest candle first (unreadable ones skipped)."""
        values = cast(list[str], await self._redis.hvals(forecasts_key(asset, tf)))
        forecasts = [f for f in (_read(Forecast, v, asset) for v in values) if f is not None]
        return sorted(forecasts, key=lambda f: f.origin)

    async def ledger(self, asset: str, tf: Timeframe, as_of: int) -> Ledger:
        """What evaluating candle `as_of` needs: every entry, and the newest forecast at or
        before `as_of` in full. Parses only records this process has not parsed before; as
        a rule the only new one is `as_of`'s own, and then one round trip is all it takes."""
        key = forecasts_key(asset, tf)
        cached = self._parsed.get((asset, tf), Parsed())
        probe = cached.probe()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hkeys(key)
            pipe.hget(key, str(as_of))
            if probe is not None:
                pipe.hget(key, str(probe))
            fields, as_of_raw, *probe_raw = await pipe.execute()
        stored = {int(f) for f in fields}
        parsed = cached.reconcile(stored, probe_raw[0] if probe_raw else None)
        full = None if as_of_raw is None else _read(Forecast, as_of_raw, asset)
        if as_of_raw is not None and as_of not in parsed.by_origin:
            parsed.add(as_of, as_of_raw, None if full is None else LedgerEntry.of(full))
        await self._parse_missing(key, asset, parsed, stored)
        self._parsed[(asset, tf)] = parsed
        entries = parsed.entries()
        newest = max((e.origin for e in entries if e.origin <= as_of), default=None)
        if newest is not None and newest != as_of:  # no forecast at `as_of` itself
            full = await self._read_full(key, newest, asset)
        return Ledger(entries=entries, newest=full)

    async def _parse_missing(
        self, key: str, asset: str, parsed: Parsed, stored: Collection[int]
    ) -> None:
        missing = parsed.missing(stored)
        if not missing:
            return
        raws = cast(list[str | None], await self._redis.hmget(key, [str(t) for t in missing]))
        for t, raw in zip(missing, raws, strict=True):
            if raw is not None:  # trimmed since HKEYS
                parsed.add(t, raw, _read(LedgerEntry, raw, asset))

    async def _read_full(self, key: str, origin: int, asset: str) -> Forecast | None:
        raw = cast(str | None, await self._redis.hget(key, str(origin)))
        return None if raw is None else _read(Forecast, raw, asset)


_Model = TypeVar("_Model", Forecast, LedgerEntry)


def _read(model: type[_Model], raw: str, asset: str) -> _Model | None:
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        # One bad record must not stop every evaluation after it; it is simply not scored,
        # and says so (once per process: what it parsed to is remembered).
        log.warning("unreadable forecast record skipped", asset=asset, error=describe(e))
        return None


def _decode(raw: str | None) -> Forecast | None:
    return None if not raw else Forecast.model_validate_json(raw)
