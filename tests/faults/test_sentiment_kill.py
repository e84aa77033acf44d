"""Fault 10 — sentiment replicas: one SIGKILLed holding work, the others take over.

Proves: three sentiment processes share the indicator events through one consumer group —
every asset read, each state published once, the model budget held across all of them,
re-deliveries free — and when the replica holding delivered, unacknowledged events is
SIGKILLed mid-call, the others reclaim them: every event is handled (nothing left pending,
nothing dead-lettered), every asset gets a reading of its final state, and no state is
published twice.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.events import Sentiment
from marketpulse_common.keys import DEAD_LETTER_STREAM, Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import RedisServer
from tests.beacons import live_instances
from tests.faults.verdict import Verdict, compare, sequence_faults
from tests.integration.sentiment.cache_seed import (
    publish_indicators,
    publish_ticker,
    stored_sentiment,
)
from tests.integration.sentiment.fake_anthropic import (
    API_KEY,
    VALID_BULLISH,
    FakeAnthropic,
    Reply,
    tool_reply,
)
from tests.processes import ServiceProcess, service_env
from tests.waiting import eventually

pytestmark = [pytest.mark.redis, pytest.mark.system, pytest.mark.faults]

ASSETS = [f"coin{n}" for n in range(6)]
TIMEFRAMES = [Timeframe.H1, Timeframe.D1]
HOURLY_CALLS = 8
REPLICAS = 3
GROUP = "sentiment"


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    # A little latency, so replicas overlap while a call is in flight.
    answer = tool_reply(VALID_BULLISH)
    slow = Reply(status=answer.status, body=answer.body, delay_s=0.2)
    with FakeAnthropic(API_KEY, lambda _request: slow).running() as server:
        yield server


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = create_redis(redis_server.url)
    yield client
    await client.aclose()


def start_replicas(
    redis_url: str, fake: FakeAnthropic, workdir: Path, **extra: str
) -> list[ServiceProcess]:
    settings = {
        "MP_REDIS_URL": redis_url,
        "MP_ASSETS": ",".join(ASSETS),
        "MP_TIMEFRAMES": ",".join(tf.value for tf in TIMEFRAMES),
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": fake.url,
        "MP_SENTIMENT_MIN_INTERVAL_S": "0",
        "MP_SENTIMENT_HOURLY_CALLS": str(HOURLY_CALLS),
    }
    env = service_env(**{**settings, **extra})
    return [ServiceProcess("sentiment", env, workdir) for _ in range(REPLICAS)]


def stop_replicas(procs: list[ServiceProcess]) -> list[int]:
    for proc in procs:  # all at once: each drains in parallel
        proc.request_stop()
    return [proc.terminate(15) for proc in procs]


async def all_consumed(redis: Redis) -> bool:
    for asset in ASSETS:
        for tf in TIMEFRAMES:
            stream = Channel(ChannelKind.INDICATORS, asset, tf).stream_key
            groups = {g["name"]: g for g in await redis.xinfo_groups(stream)}
            last = await redis.xrevrange(stream, count=1)
            group = groups.get(GROUP)
            if not (group and last and group["last-delivered-id"] == last[0][0]):
                return False
            if group["pending"]:
                return False
    return True


async def published(redis: Redis) -> dict[str, list[Sentiment]]:
    found = {}
    for asset in ASSETS:
        entries = await redis.xrange(Channel(ChannelKind.SENTIMENT, asset).stream_key)
        found[asset] = [Sentiment.model_validate_json(fields["d"]) for _, fields in entries]
    return found


async def publish_round(redis: Redis, window: int) -> None:
    for asset in ASSETS:
        for tf in TIMEFRAMES:
            await publish_indicators(redis, asset, tf, window=window, rsi=50.0 + window % 20)


async def test_replicas_share_assets_within_one_budget_and_redeliveries_cost_nothing(
    redis: Redis, redis_server: RedisServer, fake: FakeAnthropic, tmp_path: Path
) -> None:
    """3 replicas, 6 assets, 24 events, 8 calls an hour: all read, each state once, ≤ 8 calls."""
    procs = start_replicas(redis_server.url, fake, tmp_path)
    try:

        async def all_beating() -> bool:
            return len(await live_instances(redis, "sentiment")) == REPLICAS

        # Three interpreters importing the SDK at once on a busy machine: give them a minute.
        await eventually(all_beating, timeout=60, what="three live replicas")
        for asset in ASSETS:
            await publish_ticker(redis, asset)
        await publish_round(redis, 99)
        await publish_round(redis, 100)
        await eventually(lambda: all_consumed(redis), timeout=30, what="every event handled")
        first = await published(redis)
        calls = fake.calls

        # Every event again, as a reclaim or a producer retry would deliver it: no cost, no output.
        for asset in ASSETS:
            for tf in TIMEFRAMES:
                stream = Channel(ChannelKind.INDICATORS, asset, tf).stream_key
                for _, fields in await redis.xrange(stream):
                    await redis.xadd(stream, fields)
        await eventually(lambda: all_consumed(redis), timeout=30, what="re-deliveries handled")
        again = await published(redis)
    finally:
        codes = await asyncio.to_thread(stop_replicas, procs)
    logs = "\n".join(proc.log.read_text() for proc in procs)
    assert codes == [0] * REPLICAS, logs
    assert all(first[asset] for asset in ASSETS)  # every asset has a reading
    for readings in first.values():
        hashes = [s.input_hash for s in readings]
        assert len(hashes) == len(set(hashes))  # each state published once
    assert calls <= HOURLY_CALLS
    assert sum(s.provider == "anthropic" for r in first.values() for s in r) > 0
    assert fake.calls == calls and again == first
    assert API_KEY not in logs


CLAIM_IDLE_MS = 1000


@pytest.fixture
def slow_fake() -> Iterator[FakeAnthropic]:
    # Each call takes 0.6 s: the replica killed mid-call surely holds unfinished work, and
    # the model still answers within the deadline (capped at 0.9 x claim-idle = 0.9 s), so
    # the takeover is proven on the model path, not only on the fallback's.
    answer = tool_reply(VALID_BULLISH)
    slow = Reply(status=answer.status, body=answer.body, delay_s=0.6)
    with FakeAnthropic(API_KEY, lambda _request: slow).running() as server:
        yield server


async def holding(redis: Redis) -> dict[str, int]:
    """Unacknowledged entries per consumer, over every indicators stream."""
    held: dict[str, int] = {}
    for asset in ASSETS:
        for tf in TIMEFRAMES:
            stream = Channel(ChannelKind.INDICATORS, asset, tf).stream_key
            for row in await redis.xinfo_consumers(stream, GROUP):
                held[row["name"]] = held.get(row["name"], 0) + int(row["pending"])
    return held


async def test_a_sentiment_replica_killed_holding_work_is_taken_over(
    redis: Redis,
    redis_server: RedisServer,
    slow_fake: FakeAnthropic,
    tmp_path: Path,
    verdicts: Callable[[Verdict], None],
) -> None:
    procs = start_replicas(
        redis_server.url, slow_fake, tmp_path,
        MP_CLAIM_IDLE_MS=str(CLAIM_IDLE_MS), MP_SENTIMENT_HOURLY_CALLS="1000",
    )  # fmt: skip
    names = {f"sentiment-{socket.gethostname()}-{p.pid}": p for p in procs}
    try:

        async def all_beating() -> bool:
            return len(await live_instances(redis, "sentiment")) == REPLICAS

        await eventually(all_beating, timeout=60, what="three live replicas")
        for asset in ASSETS:
            await publish_ticker(redis, asset)
        await publish_round(redis, 99)

        async def holder() -> str | None:
            held = await holding(redis)
            return next((name for name, n in held.items() if n > 0 and name in names), None)

        victim = await eventually(holder, timeout=30, interval=0.01, what="a replica holding work")
        await asyncio.to_thread(names[victim].kill)
        assert (await holding(redis))[victim] > 0, "the victim finished before the kill landed"
        await publish_round(redis, 100)
        await eventually(lambda: all_consumed(redis), timeout=60, what="every event handled")
        readings = await published(redis)
        letters = await redis.xrange(DEAD_LETTER_STREAM)
    finally:
        codes = await asyncio.to_thread(stop_replicas, procs)
    survivors = [code for name, code in zip(names, codes, strict=True) if name != victim]
    assert survivors == [0] * (REPLICAS - 1)
    assert (await holding(redis)).get(victim, 0) == 0  # its entries were reclaimed and finished
    # Produced: one final state per asset (round 100); delivered: the readings published.
    final = {asset: await stored_sentiment(redis, asset) for asset in ASSETS}
    verdict = compare("sentiment SIGKILL", ASSETS, [a for a in ASSETS if final[a] is not None])
    for asset, values in readings.items():
        verdict += sequence_faults(verdict.scenario, [s.created_at for s in values])
        hashes = [s.input_hash for s in values]
        verdict += Verdict(verdict.scenario, 0, 0, len(hashes) - len(set(hashes)), 0)
        assert final[asset] is not None and values[-1] == final[asset], asset
    verdict += Verdict(verdict.scenario, 0, len(letters), 0, 0)  # dead letters: given up on
    verdicts(verdict)
    verdict.assert_clean()
    assert any(s.provider == "anthropic" for values in readings.values() for s in values)
