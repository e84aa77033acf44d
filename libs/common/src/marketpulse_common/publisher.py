"""Publish a value on a channel: append to its history stream and replace its snapshot, atomically.

One Lua script does both, so a reader never sees a snapshot whose `seq` is missing from the
stream, and it also keeps the ordering rules in one place:

- `seq` is the stream entry id (monotonic per channel); every entry carries `prev`, the seq
  before it, so a client can detect a gap without any other state.
- `epoch` names one continuous history. It is kept in the snapshot hash and renewed whenever
  the stream is missing (first publish, or Redis lost its data): a client holding an old
  epoch knows its `seq` no longer means anything and must take a fresh snapshot.
- `ver` (optional) orders values by what they describe, e.g. the open time of the newest
  candle in a window. A value whose ver is not greater than the stored one is dropped, which
  makes re-processing idempotent and stops an older window overwriting a newer one.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from marketpulse_common.events import Schema, decode_payload, encode_payload, schema_id
from marketpulse_common.keys import Channel

# Snapshots outlive any outage worth serving stale data through, then clean themselves up
# (an asset removed from MP_ASSETS leaves nothing behind for ever).
SNAPSHOT_TTL_S = 14 * 24 * 3600

_PUBLISH_LUA = """
local ver = ARGV[5]
if ver ~= '' then
  local stored = redis.call('HGET', KEYS[2], 'ver')
  if stored and tonumber(stored) >= tonumber(ver) then return false end
end
local epoch = redis.call('HGET', KEYS[2], 'epoch')
local prev = redis.call('HGET', KEYS[2], 'seq') or ''
if redis.call('EXISTS', KEYS[1]) == 0 or not epoch then
  epoch = ARGV[4]
  prev = ''
end
local id = redis.call('XADD', KEYS[1], '*', 's', ARGV[1], 'ts', ARGV[2], 'd', ARGV[3],
                      'prev', prev, 'epoch', epoch, 'src', ARGV[7])
redis.call('HSET', KEYS[2], 's', ARGV[1], 'ts', ARGV[2], 'd', ARGV[3], 'seq', id,
           'epoch', epoch, 'ver', ver, 'src', ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {id, epoch}
"""


@dataclass(frozen=True, slots=True)
class Published:
    seq: str
    epoch: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest value of a channel as stored: raw JSON `data` plus its position."""

    schema: str
    ts: float
    data: str
    seq: str
    epoch: str
    ver: int | None = None
    source: str = ""

    def decode(self) -> Schema:
        return decode_payload(self.schema, self.data)


class Publisher:
    """Publishes for one producer; `source` says where its values come from (e.g. the
    upstream, "coingecko" or "simulated", or the deriving service) and travels with them."""

    def __init__(self, redis: Redis, *, source: str = "") -> None:
        self._redis = redis
        self._source = source
        self._script = redis.register_script(_PUBLISH_LUA)

    async def publish(
        self,
        channel: Channel,
        value: Schema,
        *,
        ver: int | None = None,
        ts: float | None = None,
    ) -> Published | None:
        """Publish `value`; None when `ver` is not newer than what is stored (nothing written)."""
        args: list[str | int] = [
            schema_id(value),
            repr(time.time() if ts is None else ts),
            encode_payload(value),
            secrets.token_hex(6),
            "" if ver is None else str(ver),
            SNAPSHOT_TTL_S,
            self._source,
        ]
        result = await self._script(keys=[channel.stream_key, channel.snapshot_key], args=args)
        if not result:
            return None
        return Published(seq=result[0], epoch=result[1])


async def read_version(redis: Redis, channel: Channel) -> int | None:
    """The `ver` of the stored snapshot (None when unversioned or absent)."""
    ver = await redis.hget(channel.snapshot_key, "ver")
    return int(ver) if ver else None


async def read_snapshot(redis: Redis, channel: Channel) -> Snapshot | None:
    fields = cast(dict[str, str], await redis.hgetall(channel.snapshot_key))
    return snapshot_from_fields(fields)


def snapshot_from_fields(fields: dict[str, str]) -> Snapshot | None:
    if not fields or "seq" not in fields:
        return None
    return Snapshot(
        schema=fields["s"],
        ts=float(fields["ts"]),
        data=fields["d"],
        seq=fields["seq"],
        epoch=fields["epoch"],
        ver=int(fields["ver"]) if fields.get("ver") else None,
        source=fields.get("src", ""),
    )


async def read_snapshots(redis: Redis, channels: list[Channel]) -> list[Snapshot | None]:
    """Several snapshots read in one MULTI: one consistent moment (same slot per asset)."""
    async with redis.pipeline(transaction=True) as pipe:
        for channel in channels:
            pipe.hgetall(channel.snapshot_key)
        replies = await pipe.execute()
    return [snapshot_from_fields(cast(dict[str, str], fields)) for fields in replies]
