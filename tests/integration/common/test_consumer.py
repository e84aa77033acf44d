"""The consumer-group helper: at-least-once, reclaim, dead-letter, recovery after Redis loss."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.consumer import ConsumerConfig, StreamConsumer, StreamMessage
from marketpulse_common.errors import PoisonMessage
from marketpulse_dev.embedded_redis import RedisServer
from tests.waiting import eventually

pytestmark = pytest.mark.redis


class Recorder:
    """A handler that records ids and fails while `fail_for` says so."""

    def __init__(self, fail_for: Callable[[StreamMessage], bool] = lambda m: False) -> None:
        self.seen: list[str] = []
        self.done: list[str] = []
        self.fail_for = fail_for

    async def __call__(self, msg: StreamMessage) -> None:
        self.seen.append(msg.id)
        if msg.fields.get("poison"):
            raise PoisonMessage("bad payload")
        if self.fail_for(msg):
            raise RuntimeError("transient failure")
        self.done.append(msg.id)


@asynccontextmanager
async def running(consumer: StreamConsumer) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def config(unique: str, consumer: str = "c1", **kw: int | float) -> ConsumerConfig:
    defaults: dict[str, int | float] = {
        "claim_idle_ms": 100,
        "claim_interval_s": 0.05,
        "block_ms": 50,
    }
    return ConsumerConfig(group=f"g-{unique}", consumer=consumer, **(defaults | kw))  # type: ignore[arg-type]


async def pending_count(redis: Redis, stream: str, group: str) -> int:
    return int((await redis.xpending(stream, group))["pending"])


async def test_acks_only_after_the_handler_succeeds(redis: Redis, unique: str) -> None:
    """A failing handler leaves the entry pending; the retry processes and acks it."""
    stream = f"s-{unique}"
    failures = {"left": 1}

    def fail_once(_m: StreamMessage) -> bool:
        failures["left"] -= 1
        return failures["left"] >= 0

    handler = Recorder(fail_for=fail_once)
    cfg = config(unique)
    consumer = StreamConsumer(redis, [stream], handler, cfg, dead_letter_stream=f"dl-{unique}")
    entry = await redis.xadd(stream, {"n": "1"})
    async with running(consumer):
        await eventually(lambda: asyncio.sleep(0, handler.done), what="retry to succeed")
    assert handler.seen == [entry, entry]
    assert handler.done == [entry]
    assert await pending_count(redis, stream, cfg.group) == 0


async def test_own_pending_entries_are_reprocessed_on_start(redis: Redis, unique: str) -> None:
    """Entries a consumer held when it died are handled when it starts again under its name."""
    stream, cfg = f"s-{unique}", config(unique, claim_idle_ms=60_000)
    await redis.xgroup_create(stream, cfg.group, id="0", mkstream=True)
    entry = await redis.xadd(stream, {"n": "1"})
    await redis.xreadgroup(cfg.group, cfg.consumer, {stream: ">"})  # read, then "crash"
    handler = Recorder()
    async with running(StreamConsumer(redis, [stream], handler, cfg)):
        await eventually(lambda: asyncio.sleep(0, handler.done), what="own pending entry")
    assert handler.done == [entry]
    assert await pending_count(redis, stream, cfg.group) == 0


async def test_an_own_pending_entry_that_fails_again_waits_for_the_reclaim(
    redis: Redis, unique: str
) -> None:
    """On a restart under the same name (a container's PID 1), an entry whose handler fails is
    left for the reclaim's pace: the start-up pass reads each pending entry once, so a transient
    failure is not re-read in a tight loop and dead-lettered within milliseconds."""
    stream, dead = f"s-{unique}", f"dl-{unique}"
    cfg = config(unique, claim_idle_ms=60_000, max_deliveries=3)
    await redis.xgroup_create(stream, cfg.group, id="0", mkstream=True)
    failing = await redis.xadd(stream, {"n": "1"})
    fine = await redis.xadd(stream, {"n": "2"})
    await redis.xreadgroup(cfg.group, cfg.consumer, {stream: ">"})  # read both, then "crash"
    handler = Recorder(fail_for=lambda m: m.id == failing)
    consumer = StreamConsumer(redis, [stream], handler, cfg, dead_letter_stream=dead)
    await asyncio.wait_for(consumer.drain_own_pending(), 5)
    assert handler.seen == [failing, fine]
    assert handler.done == [fine]
    assert await redis.xlen(dead) == 0
    (row,) = await redis.xpending_range(stream, cfg.group, min="-", max="+", count=10)
    assert (row["message_id"], row["times_delivered"]) == (failing, 2)


async def idle_ms(redis: Redis, stream: str, group: str, entry: str) -> int:
    (row,) = await redis.xpending_range(stream, group, min=entry, max=entry, count=1)
    return int(row["time_since_delivered"])


async def test_an_entry_reclaimed_while_its_batch_ran_is_left_to_its_new_owner(
    redis: Redis, unique: str
) -> None:
    """A batch handled one entry at a time: a later entry that sat idle past claim-idle and
    was taken by another replica is not handled here as well (one model call, not two)."""
    stream = f"s-{unique}"
    cfg_a, cfg_b = config(unique, "a", claim_idle_ms=1000), config(unique, "b", claim_idle_ms=1000)
    await redis.xgroup_create(stream, cfg_a.group, id="0", mkstream=True)
    entries = [await redis.xadd(stream, {"n": str(n)}) for n in range(3)]
    b_handler = Recorder()
    b = StreamConsumer(redis, [stream], b_handler, cfg_b)
    a_seen: list[str] = []

    async def slow(msg: StreamMessage) -> None:
        a_seen.append(msg.id)
        # The first runs past a third of claim-idle, so the second is claimed afresh; the
        # second runs until the third has sat idle past claim-idle and another replica took it.
        floor = 400 if msg.id == entries[0] else 1100
        await eventually(
            lambda: _at_least(idle_ms(redis, stream, cfg_a.group, entries[2]), floor),
            what=f"the third entry idle for {floor} ms",
        )
        if msg.id == entries[1]:
            await b.reclaim_stale()

    a = StreamConsumer(redis, [stream], slow, cfg_a)
    await asyncio.wait_for(a.read_new(), 10)
    assert a_seen == entries[:2] and b_handler.done == entries[2:]
    assert await pending_count(redis, stream, cfg_a.group) == 0


async def test_a_long_batch_keeps_its_later_entries_from_being_reclaimed(
    redis: Redis, unique: str
) -> None:
    """Each entry is claimed afresh just before its turn once the batch has run a while, so
    its idle time counts from then: another replica's reclaim does not take it mid-handling."""
    stream = f"s-{unique}"
    cfg_a, cfg_b = config(unique, "a", claim_idle_ms=1000), config(unique, "b", claim_idle_ms=1000)
    await redis.xgroup_create(stream, cfg_a.group, id="0", mkstream=True)
    first = await redis.xadd(stream, {"n": "1"})
    second = await redis.xadd(stream, {"n": "2"})
    b_handler = Recorder()
    b = StreamConsumer(redis, [stream], b_handler, cfg_b)
    done: list[str] = []
    read_at: list[float] = []

    async def handler(msg: StreamMessage) -> None:
        if msg.id == first:  # a third of claim-idle and more: the next entry is touched
            read_at.append(time.monotonic())
            await eventually(
                lambda: _at_least(idle_ms(redis, stream, cfg_a.group, second), 500),
                what="the second entry idle for a while",
            )
        else:  # read over claim-idle ago: without the touch, idle past it
            await eventually(
                lambda: asyncio.sleep(0, time.monotonic() - read_at[0] > 1.2),
                what="the batch to have run past claim-idle",
            )
            await b.reclaim_stale()
            assert await idle_ms(redis, stream, cfg_a.group, second) < 1000
        done.append(msg.id)

    a = StreamConsumer(redis, [stream], handler, cfg_a)
    await asyncio.wait_for(a.read_new(), 10)
    assert done == [first, second] and b_handler.seen == []


async def test_an_entry_is_kept_claimed_while_its_handler_runs(redis: Redis, unique: str) -> None:
    """A handler running past claim-idle (a slow model call) keeps its entry: it is claimed
    afresh every third of claim-idle while the handler runs, so another replica's reclaim
    finds it busy, not idle, however the entry's turn fell in its batch."""
    stream = f"s-{unique}"
    cfg_a, cfg_b = config(unique, "a", claim_idle_ms=900), config(unique, "b", claim_idle_ms=900)
    await redis.xgroup_create(stream, cfg_a.group, id="0", mkstream=True)
    entry = await redis.xadd(stream, {"n": "1"})
    b_handler = Recorder()
    b = StreamConsumer(redis, [stream], b_handler, cfg_b)
    started: list[float] = []

    async def handler(msg: StreamMessage) -> None:
        started.append(time.monotonic())
        while time.monotonic() - started[0] < 2.0:  # over twice claim-idle
            await b.reclaim_stale()
            assert await idle_ms(redis, stream, cfg_a.group, entry) < cfg_a.claim_idle_ms
            await asyncio.sleep(0.1)

    a = StreamConsumer(redis, [stream], handler, cfg_a)
    await asyncio.wait_for(a.read_new(), 10)
    assert len(started) == 1 and b_handler.seen == []
    assert await pending_count(redis, stream, cfg_a.group) == 0


async def test_a_stop_leaves_the_rest_of_a_batch_pending(redis: Redis, unique: str) -> None:
    """Stopping finishes the message in hand and handles no more of its batch: the rest stay
    pending for a live replica to reclaim, instead of holding up the shutdown (32 model
    calls) until the drain timeout cancels one mid-call."""
    stream, cfg = f"s-{unique}", config(unique, claim_idle_ms=60_000)
    await redis.xgroup_create(stream, cfg.group, id="0", mkstream=True)
    for n in range(3):
        await redis.xadd(stream, {"n": str(n)})
    seen: list[str] = []
    stop = asyncio.Event()

    async def handler(msg: StreamMessage) -> None:
        seen.append(msg.fields["n"])
        stop.set()  # a SIGTERM while the first is handled

    await asyncio.wait_for(StreamConsumer(redis, [stream], handler, cfg).run(stop), 10)
    assert seen == ["0"]
    assert await pending_count(redis, stream, cfg.group) == 2


async def _at_least(value: Awaitable[int], floor: int) -> bool:
    return await value >= floor


async def test_stale_entries_of_a_dead_consumer_are_reclaimed(redis: Redis, unique: str) -> None:
    """Another consumer takes over an entry left idle by a dead one."""
    stream, cfg = f"s-{unique}", config(unique, consumer="alive")
    await redis.xgroup_create(stream, cfg.group, id="0", mkstream=True)
    entry = await redis.xadd(stream, {"n": "1"})
    await redis.xreadgroup(cfg.group, "dead", {stream: ">"})
    handler = Recorder()
    async with running(StreamConsumer(redis, [stream], handler, cfg)):
        await eventually(lambda: asyncio.sleep(0, handler.done), what="reclaimed entry")
    assert handler.done == [entry]
    assert await pending_count(redis, stream, cfg.group) == 0


async def test_poison_is_dead_lettered_at_once_and_the_rest_flows(
    redis: Redis, unique: str
) -> None:
    """A PoisonMessage goes to the dead-letter stream after one delivery; later ones succeed."""
    stream, dead = f"s-{unique}", f"dl-{unique}"
    cfg = config(unique)
    bad = await redis.xadd(stream, {"poison": "1"})
    good = await redis.xadd(stream, {"n": "2"})
    handler = Recorder()
    async with running(StreamConsumer(redis, [stream], handler, cfg, dead_letter_stream=dead)):
        await eventually(lambda: asyncio.sleep(0, handler.done), what="good entry")
    letters = await redis.xrange(dead)
    assert [fields["id"] for _, fields in letters] == [bad]
    assert letters[0][1]["reason"] == "bad payload"
    assert handler.seen == [bad, good]
    assert await pending_count(redis, stream, cfg.group) == 0


async def test_repeated_failures_are_dead_lettered_after_max_deliveries(
    redis: Redis, unique: str
) -> None:
    """An entry that always fails is delivered max_deliveries times, then dead-lettered."""
    stream, dead = f"s-{unique}", f"dl-{unique}"
    cfg = config(unique, max_deliveries=3)
    handler = Recorder(fail_for=lambda m: True)
    entry = await redis.xadd(stream, {"n": "1"})
    async with running(StreamConsumer(redis, [stream], handler, cfg, dead_letter_stream=dead)):
        await eventually(lambda: redis.xlen(dead), what="dead letter")
    assert handler.seen == [entry] * 3
    ((_, letter),) = await redis.xrange(dead)
    assert letter["reason"] == "delivered 4 times"
    assert await pending_count(redis, stream, cfg.group) == 0


async def test_the_group_is_recreated_after_redis_loses_its_data(
    redis_server: RedisServer, unique: str
) -> None:
    """After Redis restarts empty, the consumer recreates its group and handles new entries."""
    client = create_redis(redis_server.url)
    stream, cfg = f"s-{unique}", config(unique)
    handler = Recorder()
    try:
        async with running(StreamConsumer(client, [stream], handler, cfg)):
            first = await client.xadd(stream, {"n": "1"})
            await eventually(lambda: asyncio.sleep(0, handler.done), what="first entry")
            redis_server.kill()
            shutil.rmtree(redis_server.data_dir)
            redis_server.start()
            second = await eventually(
                lambda: _xadd_when_up(client, stream), timeout=20, what="redis back"
            )
            await eventually(
                lambda: asyncio.sleep(0, second in handler.done), timeout=20, what="second entry"
            )
        assert handler.done == [first, second]
    finally:
        await client.aclose()


async def _xadd_when_up(client: Redis, stream: str) -> str | None:
    try:
        return str(await client.xadd(stream, {"n": "2"}))
    except Exception:
        return None


async def test_dead_consumers_without_pending_work_are_pruned(redis: Redis, unique: str) -> None:
    """Names left by dead replicas are deleted once idle past the limit, unless they hold work."""
    stream, cfg = f"s-{unique}", config(unique, prune_idle_ms=50)
    await redis.xgroup_create(stream, cfg.group, id="0", mkstream=True)
    await redis.xreadgroup(cfg.group, "gone", {stream: ">"})  # nothing to read: no pending
    await redis.xadd(stream, {"n": "1"})
    await redis.xreadgroup(cfg.group, "holder", {stream: ">"})  # holds one pending entry
    consumer = StreamConsumer(redis, [stream], Recorder(), cfg)

    async def pruned() -> bool:
        await consumer.prune_dead_consumers()
        names = {str(c["name"]) for c in await redis.xinfo_consumers(stream, cfg.group)}
        return names == {"holder"}

    await eventually(pruned, what="only the consumer holding work to remain")


async def test_a_consumer_handed_work_after_its_idle_check_is_not_pruned(
    redis: Redis, unique: str
) -> None:
    """The check that a consumer holds nothing and its deletion are one step: a consumer
    (alive, blocking on a quiet stream, so 'idle' on Redis before 7.2) handed an entry
    between the two would lose that entry's pending record to the delete, and the entry
    would never be retried or dead-lettered."""
    stream, cfg = f"s-{unique}", config(unique, prune_idle_ms=0)
    await redis.xgroup_create(stream, cfg.group, id="0", mkstream=True)
    done = await redis.xadd(stream, {"n": "0"})
    await redis.xreadgroup(cfg.group, "quiet", {stream: ">"})  # a consumer that did work
    await redis.xack(stream, cfg.group, done)

    async def idle() -> bool:
        return all(int(c["idle"]) > 0 for c in await redis.xinfo_consumers(stream, cfg.group))

    await eventually(idle, what="the quiet consumer idle past the (zero) limit")
    consumer = StreamConsumer(redis, [stream], Recorder(), cfg)
    listed = redis.xinfo_consumers

    async def then_handed_an_entry(name: str, groupname: str) -> Any:
        consumers = await listed(name, groupname)  # as seen: "quiet" holds nothing
        await redis.xadd(stream, {"n": "1"})
        await redis.xreadgroup(cfg.group, "quiet", {stream: ">"})
        return consumers

    redis.xinfo_consumers = then_handed_an_entry  # type: ignore[method-assign]
    try:
        await consumer.prune_dead_consumers()
    finally:
        del redis.xinfo_consumers
    assert await pending_count(redis, stream, cfg.group) == 1


async def test_dead_letters_and_the_groups_backlog_reach_the_metrics(
    redis: Redis, unique: str
) -> None:
    """dead letters are counted per group; the group's lag and pending per stream are gauged
    from Redis's own count (XINFO GROUPS), including entries no replica has read yet."""
    stream, dead = f"s-{unique}", f"dl-{unique}"
    cfg = config(unique)
    await redis.xadd(stream, {"poison": "1"})
    release = asyncio.Event()

    async def stuck(msg: StreamMessage) -> None:
        if msg.fields.get("poison"):
            raise PoisonMessage("bad payload")
        await release.wait()  # holds the second entry: pending while the third waits

    await redis.xadd(stream, {"n": "2"})
    await redis.xadd(stream, {"n": "3"})
    labels = {"group": cfg.group, "stream": stream}
    one_at_a_time = ConsumerConfig(
        group=cfg.group, consumer="c1", claim_interval_s=0.05, block_ms=50, count=1
    )
    consumer = StreamConsumer(redis, [stream], stuck, one_at_a_time, dead_letter_stream=dead)

    def backlog_is(lag: int, pending: int) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            await consumer.measure_backlog()
            return (
                REGISTRY.get_sample_value("marketpulse_consumer_lag_entries", labels) == lag
                and REGISTRY.get_sample_value("marketpulse_consumer_pending_entries", labels)
                == pending
            )

        return probe

    async with running(consumer):
        await eventually(backlog_is(1, 1), timeout=10, what="lag 1 and pending 1")
        release.set()
        await eventually(backlog_is(0, 0), timeout=10, what="the backlog drained")
    dead_letters = "marketpulse_consumer_dead_letters_total"
    assert REGISTRY.get_sample_value(dead_letters, {"group": cfg.group}) == 1
