"""The compute service: candle events in, indicators out, until told to stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.consumer import ConsumerConfig, StreamConsumer
from marketpulse_common.health import instance_id, run_beacon
from marketpulse_common.keys import DEAD_LETTER_STREAM, Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.settings import Settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.handler import IndicatorHandler
from marketpulse_compute.retention import run_retention

log = get_logger(__name__)

SERVICE = "compute"
# One group shared by every replica, so each candle event is handled by exactly one of them.
GROUP = "compute"


def channel_streams(
    kind: ChannelKind, assets: Sequence[str], timeframes: Sequence[Timeframe]
) -> list[str]:
    return [Channel(kind, asset, tf).stream_key for asset in assets for tf in timeframes]


def indicator_consumer(
    redis: Redis,
    assets: Sequence[str],
    timeframes: Sequence[Timeframe],
    config: ConsumerConfig,
    *,
    dead_letter_stream: str = DEAD_LETTER_STREAM,
) -> StreamConsumer:
    """The consumer of every candles channel, handing each event to an IndicatorHandler."""
    return StreamConsumer(
        redis,
        channel_streams(ChannelKind.CANDLES, assets, timeframes),
        IndicatorHandler(redis),
        config,
        dead_letter_stream=dead_letter_stream,
    )


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Consume and publish until `stop` is set; the message in hand is finished first."""
    instance = instance_id(SERVICE)
    redis = create_redis(settings.redis_dsn, client_name=instance)
    config = ConsumerConfig(group=GROUP, consumer=instance)
    consumer = indicator_consumer(redis, settings.assets, settings.timeframes, config)
    published = channel_streams(ChannelKind.INDICATORS, settings.assets, settings.timeframes)
    log.info("compute starting", instance=instance, channels=len(published))
    try:
        # A failure in any task cancels the others: a half-running service is worse than a
        # crashed one that its supervisor restarts.
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(run_beacon(redis, SERVICE, instance, stop, {"group": GROUP}))
            tasks.create_task(run_retention(redis, published, stop))
            tasks.create_task(consumer.run(stop))
    finally:
        await redis.aclose()
    stats = consumer.stats
    log.info(
        "compute stopped",
        processed=stats.processed,
        failed=stats.failed,
        dead_lettered=stats.dead_lettered,
    )
