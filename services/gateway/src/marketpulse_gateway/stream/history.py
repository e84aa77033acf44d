"""What a subscribe reads from Redis: each channel's snapshot and, to resume, its history.

One pipelined round trip for the whole subscribe, whatever the number of channels: each
channel's snapshot, then its stream's newest entry id (a snapshot claiming a later seq was
not the publisher's: stored.py). A channel with a resume position also gets
`XRANGE stream <seq> + COUNT n` (its entry at seq and what came after), so a resume that
cannot be honoured falls back to the snapshot without a second trip. The reads of one
channel need not be atomic: the replay is built from the stream alone and the snapshot path
from the hash alone (see hub.py for the join).
Of the entries read, only those the live reader would deliver are kept (resume.servable),
and a snapshot that fails its schema is `rejected` the same way: the hub then sends the
last value it passed on instead (hub.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.keys import Channel
from marketpulse_common.logs import get_logger
from marketpulse_common.publisher import Snapshot
from marketpulse_gateway.errors import StoreUnavailable
from marketpulse_gateway.stored import Rejected, read_stored
from marketpulse_gateway.stream.resume import Entry, replay_read_count, servable, valid_position

log = get_logger(__name__)

# A subscribe is answered in about a millisecond; one waiting longer than this is better told
# `unavailable` (it may retry) than left hanging on a sick Redis.
READ_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class ChannelHistory:
    snapshot: Snapshot | None
    # Entries from the resume seq on; None when no (usable) position was given, [] when
    # there were more than a replay may hold.
    entries: list[Entry] | None
    # The stored snapshot is not the publisher's or fails its schema: never sent as it is.
    rejected: bool = False


class StreamHistory:
    def __init__(self, redis: Redis, *, timeout_s: float = READ_TIMEOUT_S) -> None:
        self._redis = redis
        self._timeout_s = timeout_s

    async def read(
        self, wanted: Sequence[tuple[Channel, str | None]], *, max_entries: int
    ) -> list[ChannelHistory]:
        """Per (channel, resume seq or None): the snapshot and the entries from seq on."""
        count = replay_read_count(max_entries)
        pipe = self._redis.pipeline(transaction=False)
        for channel, seq in wanted:
            if seq is not None and valid_position(seq):
                pipe.xrange(channel.stream_key, min=seq, max="+", count=count)
            pipe.hgetall(channel.snapshot_key)
            # After the snapshot: an entry published in between only raises the newest id.
            pipe.xrevrange(channel.stream_key, max="+", min="-", count=1)
        try:
            async with asyncio.timeout(self._timeout_s):
                replies = iter(await pipe.execute())
        except TimeoutError:
            raise StoreUnavailable("Redis did not answer in time; retry shortly") from None
        except RedisError as e:
            raise StoreUnavailable("Redis is unreachable; retry shortly") from e
        return [_history(channel, seq, replies, count) for channel, seq in wanted]


def _history(channel: Channel, seq: str | None, replies: Any, count: int) -> ChannelHistory:
    entries = None
    if seq is not None and valid_position(seq):
        read = [(str(entry_id), fields) for entry_id, fields in next(replies)]
        # Counted before filtering: a full read was cut short, whatever `servable` drops.
        entries = [] if len(read) >= count else servable(read)
    fields, newest = cast(dict[str, str], next(replies)), next(replies)
    snapshot = read_stored(fields, newest=str(newest[0][0]) if newest else None)
    if isinstance(snapshot, Rejected):
        log.warning("stored snapshot rejected", channel=channel.name, reason=snapshot.reason)
        return ChannelHistory(snapshot=None, entries=entries, rejected=True)
    return ChannelHistory(snapshot=snapshot, entries=entries)
