"""At-least-once stream consumption through a consumer group.

The contract every worker relies on:
- a message is acknowledged only after its handler returned, i.e. after the result is stored;
- on start a consumer first re-reads its own pending entries (work it held when it died),
  each once: one that fails again is left to the reclaim below;
- entries idle longer than `claim_idle_ms` in any consumer (a dead replica, or a handler that
  failed) are reclaimed with XAUTOCLAIM and retried;
- on stop, the message in hand is finished and the rest of its batch left pending;
- a batch is handled one entry at a time, and its later entries age while the earlier ones
  run: once a batch has run for a third of `claim_idle_ms`, each entry is claimed afresh
  (XCLAIM JUSTID, its idle time reset) just before its turn, and skipped if another consumer
  has taken it meanwhile; while its handler runs, it is claimed afresh every third of
  `claim_idle_ms`, so slow handlers (a model call) never handle an entry twice;
- an entry delivered more than `max_deliveries` times, or whose handler raises PoisonMessage,
  goes to the dead-letter stream with the reason, and is acknowledged;
- a missing group (Redis restarted without its data) is recreated at `0`, and the consumer
  carries on; handlers are idempotent, so re-reading history is safe.

On Redis Cluster an XREADGROUP may only name streams of one hash slot: the consumer then runs
one loop per slot (one asset's streams, by their `{asset}` tag), all sharing the handler,
the consumer name and the stats. Standalone Redis keeps one loop over every stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import (
    AskError,
    ClusterDownError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from marketpulse_common.connection import MAX_BLOCK_MS, slot_groups
from marketpulse_common.consumer_metrics import DEAD_LETTERS, record_backlog
from marketpulse_common.errors import PoisonMessage
from marketpulse_common.keys import DEAD_LETTER_MAXLEN, DEAD_LETTER_STREAM
from marketpulse_common.logs import describe, get_logger

log = get_logger(__name__)

# Redis (or one cluster node) unavailable for now: wait and carry on. The cluster kinds are
# a failover in progress (CLUSTERDOWN, TRYAGAIN, a redirect still moving) or no node known
# to serve a slot yet (RedisClusterException), after the client's own bounded retries.
_UNAVAILABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    ClusterDownError,
    TryAgainError,
    AskError,
    RedisClusterException,
)

PRUNE_INTERVAL_S = 300.0


@dataclass(frozen=True, slots=True)
class StreamMessage:
    stream: str
    id: str
    fields: dict[str, str]
    deliveries: int


Handler = Callable[[StreamMessage], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    group: str
    consumer: str
    max_deliveries: int = 5
    # Long enough that a healthy handler never loses its entry to another replica.
    claim_idle_ms: int = 30_000
    claim_interval_s: float = 5.0
    # Consumer names include the pid, so every restart leaves a name behind; one idle this
    # long with nothing pending is gone for good and only clutters XINFO.
    prune_idle_ms: int = 3_600_000
    block_ms: int = 1000
    count: int = 32

    def __post_init__(self) -> None:
        if not 0 < self.block_ms <= MAX_BLOCK_MS:
            raise ValueError(f"block_ms must be in (0, {MAX_BLOCK_MS}]")


# Claim an entry for its own consumer again (idle reset, delivery count unchanged) if that
# consumer still holds it. KEYS: stream. ARGV: group, consumer, id.
_CLAIM_IF_MINE_LUA = """
local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #held == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""


# Delete a consumer only if it holds nothing, in one step: one handed an entry between a
# check and a delete would lose that entry's pending record (never retried, never
# dead-lettered). KEYS: stream. ARGV: group, consumer.
_DELETE_IF_IDLE_LUA = """
local held = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #held > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


@dataclass
class ConsumerStats:
    processed: int = 0
    failed: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0


class StreamConsumer:
    def __init__(
        self,
        redis: Redis,
        streams: Sequence[str],
        handler: Handler,
        config: ConsumerConfig,
        *,
        dead_letter_stream: str = DEAD_LETTER_STREAM,
    ) -> None:
        self._redis = redis
        self._streams = list(streams)
        self._handler = handler
        self._cfg = config
        self._dead_letter_stream = dead_letter_stream
        self._touch_after_s = config.claim_idle_ms / 3000
        self._claim_if_mine = redis.register_script(_CLAIM_IF_MINE_LUA)
        self._delete_if_idle = redis.register_script(_DELETE_IF_IDLE_LUA)
        self.stats = ConsumerStats()
        self._stop = asyncio.Event()  # run() hands in the service's

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; the message in hand is always finished first, and
        the rest of its batch is left pending (a live replica reclaims it)."""
        self._stop = stop
        groups = slot_groups(self._redis, self._streams)
        if len(groups) > 1:
            await self._run_per_slot(groups, stop)
            return
        await self._recover(self.ensure_groups)
        await self._recover(self.drain_own_pending)
        next_claim = next_prune = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_claim:
                await self._recover(self.reclaim_stale)
                await self._recover(self.measure_backlog)
                next_claim = time.monotonic() + self._cfg.claim_interval_s
            if time.monotonic() >= next_prune:
                await self._recover(self.prune_dead_consumers)
                next_prune = time.monotonic() + PRUNE_INTERVAL_S
            await self._recover(self.read_new)

    async def _run_per_slot(self, groups: list[list[str]], stop: asyncio.Event) -> None:
        parts = [
            StreamConsumer(
                self._redis,
                streams,
                self._handler,
                self._cfg,
                dead_letter_stream=self._dead_letter_stream,
            )
            for streams in groups
        ]
        async with asyncio.TaskGroup() as tasks:
            for part in parts:
                part.stats = self.stats
                tasks.create_task(part.run(stop))

    async def _recover(self, step: Callable[[], Awaitable[object]]) -> None:
        try:
            await step()
        except _UNAVAILABLE as e:
            log.warning("redis unavailable; retrying", group=self._cfg.group, error=describe(e))
            await asyncio.sleep(1.0)
        except ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
            log.warning("consumer group missing; recreating", group=self._cfg.group)
            try:
                await self.ensure_groups()
            except _UNAVAILABLE as again:  # Redis went away again: the next step retries
                log.warning("redis unavailable; retrying", group=self._cfg.group,
                            error=describe(again))  # fmt: skip
                await asyncio.sleep(1.0)

    async def ensure_groups_patiently(self, stop: asyncio.Event) -> None:
        """`ensure_groups`, waiting out a Redis outage (a failover as the service starts)."""
        while not stop.is_set():
            try:
                await self.ensure_groups()
                return
            except _UNAVAILABLE as e:
                log.warning("redis unavailable; retrying", group=self._cfg.group, error=describe(e))
                await asyncio.sleep(1.0)

    async def ensure_groups(self) -> None:
        for stream in self._streams:
            try:
                await self._redis.xgroup_create(stream, self._cfg.group, id="0", mkstream=True)
                log.info("consumer group created", stream=stream, group=self._cfg.group)
            except ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise

    async def measure_backlog(self) -> None:
        """The group's lag and pending count per stream, for the metrics (consumer_metrics).
        A stream that is gone (Redis lost its data) is skipped: the next read recreates it."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream in self._streams:
                pipe.xinfo_groups(stream)
            answers = await pipe.execute(raise_on_error=False)
        for stream, groups in zip(self._streams, answers, strict=True):
            if isinstance(groups, Exception):
                continue
            for info in groups:
                if info.get("name") == self._cfg.group:
                    record_backlog(self._cfg.group, stream, info)

    async def drain_own_pending(self) -> None:
        """Re-process, once each, the entries this consumer name held before a restart.

        The read walks forward past what it has handled: an entry whose handler fails again
        stays pending for `reclaim_stale`, at its pace, instead of being re-read at once until
        it is dead-lettered (a restart under the same name would spend every delivery in ms)."""
        positions = dict.fromkeys(self._streams, "0")
        while positions and not self._stop.is_set():
            batch = await self._read(positions, block=None)
            read = {stream: entries for stream, entries in batch if entries}
            for stream, entries in read.items():
                await self._handle_batch(stream, entries, count_deliveries=True)
            positions = {stream: entries[-1][0] for stream, entries in read.items()}

    async def read_new(self) -> None:
        batch = await self._read(dict.fromkeys(self._streams, ">"), block=self._cfg.block_ms)
        for stream, entries in batch:
            await self._handle_batch(stream, entries, count_deliveries=False)

    async def reclaim_stale(self) -> None:
        for stream in self._streams:
            start = "0-0"
            while True:
                reply = await self._redis.xautoclaim(
                    stream,
                    self._cfg.group,
                    self._cfg.consumer,
                    min_idle_time=self._cfg.claim_idle_ms,
                    start_id=start,
                    count=self._cfg.count,
                )
                start, entries = reply[0], reply[1]
                live = [(i, f) for i, f in entries if f]
                self.stats.reclaimed += len(live)
                await self._ack_missing(stream, [i for i, f in entries if not f])
                await self._handle_batch(stream, live, count_deliveries=True)
                if start == "0-0":
                    break

    async def prune_dead_consumers(self) -> None:
        """Delete other consumers idle past `prune_idle_ms` that hold no pending entries."""
        for stream in self._streams:
            for info in await self._redis.xinfo_consumers(stream, self._cfg.group):
                name, idle = str(info["name"]), int(info["idle"])
                if name == self._cfg.consumer or info["pending"]:
                    continue
                if idle > self._cfg.prune_idle_ms and await self._delete_if_idle(
                    keys=[stream], args=[self._cfg.group, name]
                ):
                    log.info("pruned idle consumer", stream=stream, consumer=name, idle_ms=idle)

    async def _read(
        self, positions: dict[str, str], block: int | None
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
        reply = await self._redis.xreadgroup(
            self._cfg.group,
            self._cfg.consumer,
            positions,  # type: ignore[arg-type]
            count=self._cfg.count,
            block=block,
        )
        return cast(list[tuple[str, list[tuple[str, dict[str, str]]]]], reply or [])

    async def _handle_batch(
        self, stream: str, entries: list[tuple[str, dict[str, str]]], *, count_deliveries: bool
    ) -> None:
        if not entries:
            return
        started = time.monotonic()
        deliveries = await self._deliveries(stream, entries) if count_deliveries else {}
        for entry_id, fields in entries:
            if self._stop.is_set():
                return
            if time.monotonic() - started > self._touch_after_s and not await self._still_mine(
                stream, entry_id
            ):
                log.info("entry taken over while its batch ran; left to its new owner",
                         stream=stream, id=entry_id)  # fmt: skip
                continue
            msg = StreamMessage(stream, entry_id, fields, deliveries.get(entry_id, 1))
            if msg.deliveries > self._cfg.max_deliveries:
                await self._dead_letter(msg, f"delivered {msg.deliveries} times")
                continue
            done = asyncio.Event()
            keeper = asyncio.create_task(self._keep_claimed(stream, entry_id, done))
            try:
                await self._handle(msg)
            finally:
                done.set()
                await keeper

    async def _keep_claimed(self, stream: str, entry_id: str, done: asyncio.Event) -> None:
        """While the entry's handler runs, claim it afresh every third of claim-idle, so its
        idle time never reaches claim-idle and no other replica's reclaim takes it mid-run
        (a model call may take most of claim-idle, and its turn may have come late in its
        batch). Ends when `done` is set, never by cancellation: a cancel landing as a
        command is sent can be swallowed by redis-py (redis/redis-py#2028)."""
        while True:
            try:
                await asyncio.wait_for(done.wait(), self._touch_after_s)
                return
            except TimeoutError:
                pass
            try:
                if not await self._still_mine(stream, entry_id):
                    log.warning("entry taken over while its handler ran",
                                stream=stream, id=entry_id)  # fmt: skip
                    return
            except _UNAVAILABLE as e:
                log.warning("could not keep an entry claimed", id=entry_id, error=describe(e))

    async def _still_mine(self, stream: str, entry_id: str) -> bool:
        """Reset the entry's idle time if this consumer still holds it; False if not."""
        args = [self._cfg.group, self._cfg.consumer, entry_id]
        return bool(await self._claim_if_mine(keys=[stream], args=args))

    async def _deliveries(
        self, stream: str, entries: list[tuple[str, dict[str, str]]]
    ) -> dict[str, int]:
        rows = await self._redis.xpending_range(
            stream,
            self._cfg.group,
            min=entries[0][0],
            max=entries[-1][0],
            count=len(entries) * 2,
            consumername=self._cfg.consumer,
        )
        return {str(row["message_id"]): int(row["times_delivered"]) for row in rows}

    async def _handle(self, msg: StreamMessage) -> None:
        try:
            await self._handler(msg)
        except PoisonMessage as e:
            await self._dead_letter(msg, str(e))
            return
        except Exception as e:
            # Left pending on purpose: reclaim retries it, and dead-letters it past the limit.
            self.stats.failed += 1
            log.exception("message handler failed", stream=msg.stream, id=msg.id, error=describe(e))
            return
        await self._redis.xack(msg.stream, self._cfg.group, msg.id)
        self.stats.processed += 1

    async def _dead_letter(self, msg: StreamMessage, reason: str) -> None:
        record = {
            "stream": msg.stream,
            "id": msg.id,
            "group": self._cfg.group,
            "reason": reason,
            "deliveries": str(msg.deliveries),
            "fields": orjson.dumps(msg.fields).decode(),
        }
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self._dead_letter_stream,
                record,  # type: ignore[arg-type]
                maxlen=DEAD_LETTER_MAXLEN,
                approximate=True,
            )
            pipe.xack(msg.stream, self._cfg.group, msg.id)
            await pipe.execute()
        self.stats.dead_lettered += 1
        DEAD_LETTERS.labels(self._cfg.group).inc()
        log.error("message dead-lettered", stream=msg.stream, id=msg.id, reason=reason)

    async def _ack_missing(self, stream: str, ids: list[str]) -> None:
        # Entries trimmed from the stream while pending cannot be processed any more.
        if ids:
            await self._redis.xack(stream, self._cfg.group, *ids)
