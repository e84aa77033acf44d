"""The one task per gateway process that reads every channel stream and feeds the hub.

It hands each entry, as a ChannelEvent, to its EventSink: in the running gateway the
in-process cache and then the hub (event_fanout.py).

Plain XREAD, never a consumer group: every gateway replica must see every event (fan-out),
and nothing here needs acknowledging. The reader starts at each stream's newest entry
(priming the hub with it, or with the newest good one just before it, so the first delta
after a start can already be a diff) and then
follows from the last id it saw per stream; starting from "$" on every call would drop
entries added between two calls. A Redis outage pauses reading with capped backoff and
resumes from the same ids, so nothing still in a stream's history is skipped.

It stops when cancelled or, at the latest one blocking read later, once its `stop` event is
set: redis-py swallows a cancellation that lands just as a command is sent
(redis/redis-py#2028), and a reader that only stopped on cancel would then read on for ever
and hold up the gateway's shutdown.

On Redis Cluster one XREAD may only name keys of one hash slot, so the reader follows each
slot's streams (one asset's, by their `{asset}` tag) in its own blocking loop; standalone
Redis keeps the single XREAD over every stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.typing import KeyT, StreamIdT

from marketpulse_common.connection import MAX_BLOCK_MS, REDIS_ERRORS, slot_groups
from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import decode_payload
from marketpulse_common.keys import Channel
from marketpulse_common.logs import describe, get_logger
from marketpulse_common.publisher import ChannelField
from marketpulse_gateway.channel_event import ChannelEvent, EventSink

log = get_logger(__name__)


# Entries taken per XREAD: enough to catch up after a pause in a few calls without holding
# the event loop for long on one reply.
READ_BATCH = 500
# Before any entry exists a stream is read from its very beginning.
ORIGIN = "0-0"
# At start the sink is primed with the newest entry it may serve among this many: the newest
# one may be malformed (skipped), and the last good value is what the gateway then serves.
PRIME_DEPTH = 10
BACKOFF_FIRST_S = 0.1
BACKOFF_CAP_S = 5.0


class StreamReader:
    def __init__(
        self,
        redis: Redis,
        channels: Sequence[Channel],
        sink: EventSink,
        *,
        block_ms: int = MAX_BLOCK_MS,
        batch: int = READ_BATCH,
        stop: asyncio.Event | None = None,
    ) -> None:
        if not 0 < block_ms <= MAX_BLOCK_MS:
            raise ValueError(f"block_ms must be in 1..{MAX_BLOCK_MS}")
        self._redis = redis
        self._names = {channel.stream_key: channel.name for channel in channels}
        self._sink = sink
        self._block_ms = block_ms
        self._batch = batch
        self._delay = 0.0
        self._stop = stop if stop is not None else asyncio.Event()
        # Set once every stream has a starting position: events from then on reach the hub.
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Read until cancelled or `stop` is set (by the gateway's lifespan)."""
        positions = await self._start_positions()
        self.ready.set()
        if self._stop.is_set():
            return
        groups = slot_groups(self._redis, list(positions))
        if len(groups) == 1:
            await self._follow(positions)
            return
        async with asyncio.TaskGroup() as tasks:
            for keys in groups:
                tasks.create_task(self._follow({key: positions[key] for key in keys}))

    async def _follow(self, positions: dict[str, str]) -> None:
        """XREAD `positions` (keys of one slot on a cluster) until stopped, moving them on."""
        while not self._stop.is_set():
            try:
                streams = cast("dict[KeyT, StreamIdT]", positions)
                reply = await self._redis.xread(streams, block=self._block_ms, count=self._batch)
            except REDIS_ERRORS as e:
                await self._pause(e)
                continue
            self._recovered()
            self._dispatch(_stream_items(reply), positions)

    async def _start_positions(self) -> dict[str, str]:
        while not self._stop.is_set():
            try:
                pipe = self._redis.pipeline(transaction=False)
                for key in self._names:
                    pipe.xrevrange(key, count=PRIME_DEPTH)
                replies = await pipe.execute()
            except REDIS_ERRORS as e:
                await self._pause(e)
                continue
            self._recovered()
            pairs = zip(self._names, replies, strict=True)
            return {key: self._prime(key, entries) for key, entries in pairs}
        return {}

    def _prime(self, key: str, entries: list[Any]) -> str:
        """Prime the sink with the newest entry it may serve; follow from the newest one."""
        if not entries:
            return ORIGIN
        for entry_id, fields in entries:
            if self._deliver(self._sink.prime, key, entry_id, fields):
                break
        return str(entries[0][0])

    def _dispatch(self, items: Iterable[tuple[str, list[Any]]], positions: dict[str, str]) -> None:
        for key, entries in items:
            for entry_id, fields in entries:
                positions[key] = entry_id
                self._deliver(self._sink.publish, key, entry_id, fields)

    def _deliver(
        self, to: Callable[[ChannelEvent], None], key: str, entry_id: str, fields: Mapping[str, str]
    ) -> bool:
        """Hand the entry on; False when it was skipped."""
        try:
            event = ChannelEvent.from_entry(self._names[key], entry_id, fields)
            # A payload that does not match its schema would reach every client (and the
            # REST cache) as if a producer had written it: validated once here, per event.
            decode_payload(fields[ChannelField.SCHEMA], event.data)
            to(event)
        except (PoisonMessage, ValueError) as e:
            # Not the publisher's format (or not JSON, or not its schema): skip it, never
            # stop the stream.
            log.warning(
                "skipping malformed stream entry", stream=key, id=entry_id, error=describe(e)
            )
            return False
        return True

    async def _pause(self, error: Exception) -> None:
        if not self._delay:
            log.warning("stream reading paused: Redis unavailable", error=describe(error))
        self._delay = min(BACKOFF_CAP_S, max(BACKOFF_FIRST_S, self._delay * 2))
        await asyncio.sleep(self._delay)

    def _recovered(self) -> None:
        if self._delay:
            log.info("stream reading resumed")
            self._delay = 0.0


def _stream_items(reply: Any) -> Iterable[tuple[str, list[Any]]]:
    # RESP2 answers a list of [key, entries] pairs, RESP3 a map; accept both.
    if not reply:
        return ()
    if isinstance(reply, dict):
        return reply.items()
    return ((key, entries) for key, entries in reply)
