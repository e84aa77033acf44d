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

The field names of both records are `ChannelField`; every reader parses an entry with
`entry_from_fields` and a snapshot with `snapshot_from_fields`.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from redis.asyncio import Redis

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Schema, decode_payload, encode_payload, schema_id
from marketpulse_common.keys import Channel
from marketpulse_common.tracing import current_traceparent

# Snapshots outlive any outage worth serving stale data through, then clean themselves up
# (an asset removed from MP_ASSETS leaves nothing behind for ever).
SNAPSHOT_TTL_S = 14 * 24 * 3600


class ChannelField(StrEnum):
    """The fields of a channel's stream entries and of its snapshot hash."""

    SCHEMA = "s"  # the payload's schema id, e.g. "ticker/1"
    TS = "ts"  # when the producer published it (epoch seconds)
    DATA = "d"  # the payload, JSON
    EPOCH = "epoch"  # the continuous history the value belongs to
    SOURCE = "src"  # where the value came from ("coingecko", "compute", …; may be "")
    TRACE = "tp"  # entries only, when tracing is on: the W3C traceparent of the publishing span
    PREV = "prev"  # entries only: the seq before this one in its epoch ("" for the first)
    SEQ = "seq"  # snapshot only: the stream entry id of this value
    VER = "ver"  # snapshot only: the value's version ("" when unversioned)


_F = ChannelField
_PUBLISH_LUA = f"""
local ver = ARGV[5]
if ver ~= '' then
  local stored = redis.call('HGET', KEYS[2], '{_F.VER}')
  if stored and stored ~= '' and tonumber(stored) >= tonumber(ver) then return false end
end
local epoch = redis.call('HGET', KEYS[2], '{_F.EPOCH}')
local prev = redis.call('HGET', KEYS[2], '{_F.SEQ}') or ''
if redis.call('EXISTS', KEYS[1]) == 0 or not epoch then
  epoch = ARGV[4]
  prev = ''
end
local id
if ARGV[8] == '' then
  id = redis.call('XADD', KEYS[1], '*', '{_F.SCHEMA}', ARGV[1], '{_F.TS}', ARGV[2],
                  '{_F.DATA}', ARGV[3], '{_F.PREV}', prev, '{_F.EPOCH}', epoch,
                  '{_F.SOURCE}', ARGV[7])
else
  id = redis.call('XADD', KEYS[1], '*', '{_F.SCHEMA}', ARGV[1], '{_F.TS}', ARGV[2],
                  '{_F.DATA}', ARGV[3], '{_F.PREV}', prev, '{_F.EPOCH}', epoch,
                  '{_F.SOURCE}', ARGV[7], '{_F.TRACE}', ARGV[8])
end
redis.call('HSET', KEYS[2], '{_F.SCHEMA}', ARGV[1], '{_F.TS}', ARGV[2], '{_F.DATA}', ARGV[3],
           '{_F.SEQ}', id, '{_F.EPOCH}', epoch, '{_F.VER}', ver, '{_F.SOURCE}', ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {{id, epoch}}
"""


@dataclass(frozen=True, slots=True)
class Published:
    seq: str
    epoch: str


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One entry of a channel's history stream: a published value and its place in history.

    Its position (`seq`) is the entry id, which Redis keeps beside the fields.
    """

    schema: str
    ts: float
    data: str
    epoch: str
    prev: str = ""
    source: str = ""
    # The W3C traceparent of the span that published it ("" when tracing was off).
    trace: str = ""

    def decode(self) -> Schema:
        """The validated payload; PoisonMessage when it does not match its schema."""
        return decode_payload(self.schema, self.data)


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
            current_traceparent(),
        ]
        result = await self._script(keys=[channel.stream_key, channel.snapshot_key], args=args)
        if not result:
            return None
        return Published(seq=result[0], epoch=result[1])


async def read_version(redis: Redis, channel: Channel) -> int | None:
    """The `ver` of the stored snapshot (None when unversioned or absent)."""
    ver = await redis.hget(channel.snapshot_key, _F.VER)
    return int(ver) if ver else None


async def read_snapshot(redis: Redis, channel: Channel) -> Snapshot | None:
    fields = cast(dict[str, str], await redis.hgetall(channel.snapshot_key))
    return snapshot_from_fields(fields)


# Publish times outside these bounds were written by no producer: before 1970, after 2100.
_EARLIEST_TS = 0.0
_LATEST_TS = 4_102_444_800.0


def publish_time(value: str | float | None) -> float | None:
    """A stored publish time (epoch s), if it is one: finite and between 1970 and 2100.
    Redis keeps whatever is written: "nan" or "inf" would end a reader's date arithmetic in
    an error, and 1e12 (year 33658) would make a value look fresh for ever."""
    if value is None or value == "":
        return None
    try:
        ts = float(value)
    except ValueError:
        return None
    return ts if math.isfinite(ts) and _EARLIEST_TS <= ts <= _LATEST_TS else None


def entry_from_fields(fields: Mapping[str, str]) -> StreamEntry:
    """A stream entry as the publisher wrote it; PoisonMessage for anything else.

    `prev` and `src` may be absent (entries written before `src` existed lack it).
    """
    try:
        entry = StreamEntry(
            schema=fields[_F.SCHEMA],
            ts=float(fields[_F.TS]),
            data=fields[_F.DATA],
            epoch=fields[_F.EPOCH],
            prev=fields.get(_F.PREV, ""),
            source=fields.get(_F.SOURCE, ""),
            trace=fields.get(_F.TRACE, ""),
        )
    except KeyError as e:
        field = ChannelField(e.args[0])
        raise PoisonMessage(f"stream entry has no {field.name.lower()} ({field}) field") from None
    except ValueError:
        raise PoisonMessage(f"stream entry's ts is not a number: {fields[_F.TS]!r}") from None
    if publish_time(entry.ts) is None:
        raise PoisonMessage(f"stream entry's ts is not a publish time: {fields[_F.TS]!r}")
    return entry


def snapshot_from_fields(fields: Mapping[str, str]) -> Snapshot | None:
    if not fields or _F.SEQ not in fields:
        return None
    return Snapshot(
        schema=fields[_F.SCHEMA],
        ts=float(fields[_F.TS]),
        data=fields[_F.DATA],
        seq=fields[_F.SEQ],
        epoch=fields[_F.EPOCH],
        ver=int(fields[_F.VER]) if fields.get(_F.VER) else None,
        source=fields.get(_F.SOURCE, ""),
    )


async def read_snapshots(redis: Redis, channels: list[Channel]) -> list[Snapshot | None]:
    """Several snapshots read in one MULTI: one consistent moment (same slot per asset)."""
    async with redis.pipeline(transaction=True) as pipe:
        for channel in channels:
            pipe.hgetall(channel.snapshot_key)
        replies = await pipe.execute()
    return [snapshot_from_fields(cast(dict[str, str], fields)) for fields in replies]
