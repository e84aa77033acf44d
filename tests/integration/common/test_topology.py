"""Work that spans assets (several hash slots) runs on standalone Redis and on a cluster."""

from __future__ import annotations

import asyncio

import pytest
import redis as sync_redis
from redis.asyncio import Redis
from redis.crc import key_slot

from marketpulse_common.connection import is_cluster, slot_groups
from marketpulse_common.consumer import ConsumerConfig, StreamConsumer, StreamMessage
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_cluster import LocalCluster
from tests.redis_fixtures import RedisTarget
from tests.unit.common.test_key_slots import asset_keys
from tests.waiting import eventually

pytestmark = pytest.mark.redis


def streams_of(unique: str) -> list[str]:
    """Candle streams of three assets, two timeframes each: three slots on a cluster."""
    return [
        Channel(ChannelKind.CANDLES, f"{unique}-{n}", tf).stream_key
        for n in range(3)
        for tf in (Timeframe.M5, Timeframe.H1)
    ]


async def test_slot_groups_are_one_per_asset_on_a_cluster_and_one_on_standalone(
    redis: Redis, redis_target: RedisTarget, unique: str
) -> None:
    streams = streams_of(unique)
    groups = slot_groups(redis, streams)
    assert is_cluster(redis) is redis_target.cluster
    if redis_target.cluster:
        assert sorted(map(sorted, groups)) == sorted(sorted(streams[i : i + 2]) for i in (0, 2, 4))
    else:
        assert groups == [streams]


async def test_one_consumer_handles_the_streams_of_every_asset(redis: Redis, unique: str) -> None:
    """A consumer group over streams of several slots gets and acks every entry."""
    streams = streams_of(unique)
    done: list[tuple[str, str]] = []

    async def handler(msg: StreamMessage) -> None:
        done.append((msg.stream, msg.id))

    cfg = ConsumerConfig(group=f"g-{unique}", consumer="c1", block_ms=50, claim_interval_s=0.05)
    consumer = StreamConsumer(redis, streams, handler, cfg, dead_letter_stream=f"dl-{unique}")
    before = [(s, await redis.xadd(s, {"n": "0"})) for s in streams]
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(lambda: asyncio.sleep(0, len(done) >= len(before)), what="first entries")
        after = [(s, await redis.xadd(s, {"n": "1"})) for s in streams]
        await eventually(
            lambda: asyncio.sleep(0, len(done) >= len(before) + len(after)), what="new entries"
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert sorted(done) == sorted(before + after)
    assert consumer.stats.processed == len(done)
    for stream in streams:
        assert (await redis.xpending(stream, cfg.group))["pending"] == 0


def test_the_cluster_agrees_on_each_assets_single_slot(redis_cluster: LocalCluster) -> None:
    """CLUSTER KEYSLOT of every key of an asset is the slot of the asset's tag."""
    with sync_redis.Redis(port=redis_cluster.ports[0], decode_responses=True) as node:
        for asset in ("bitcoin", "ethereum", "solana"):
            slots = {int(node.execute_command("CLUSTER KEYSLOT", k)) for k in asset_keys(asset)}
            assert slots == {key_slot(asset.encode())}
