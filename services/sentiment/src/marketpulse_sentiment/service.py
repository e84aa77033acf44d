"""The sentiment service: consume indicator events, publish sentiment, trim its streams.

`run(settings, stop)` owns everything it opens: the Redis client, the consumer, the trim
loop and the health beacon, all stopped by `stop` and closed on the way out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.connection import create_redis
from marketpulse_common.consumer import ConsumerConfig, StreamConsumer
from marketpulse_common.health import instance_id, run_beacon
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.retention import trim_stream
from marketpulse_common.settings import Settings
from marketpulse_sentiment.providers import Provider, select_provider
from marketpulse_sentiment.worker import SentimentWorker

log = get_logger(__name__)

SERVICE = "sentiment"
GROUP = "sentiment"
# The sentiment streams are a resume log for WebSocket clients, not an archive (the snapshot
# holds the latest value). A sentiment is published at most once per indicator event, about
# 15 an hour per asset in real time with the default timeframes: 1000 entries keep days of
# history for reconnecting clients in well under a megabyte per asset.
SENTIMENT_STREAM_MAXLEN = 1000
# Trimming lags publishing by at most this long; at even 100 publishes a minute the stream
# overshoots its maxlen by a tenth. Every replica trims: XTRIM MINID is idempotent.
TRIM_INTERVAL_S = 60.0


def indicator_streams(settings: Settings) -> list[str]:
    return [
        Channel(ChannelKind.INDICATORS, asset, tf).stream_key
        for asset in settings.assets
        for tf in settings.timeframes
    ]


async def trim_sentiment_streams(redis: Redis, assets: Sequence[str], stop: asyncio.Event) -> None:
    """Keep every sentiment stream near SENTIMENT_STREAM_MAXLEN until `stop`."""
    while not stop.is_set():
        for asset in assets:
            stream = Channel(ChannelKind.SENTIMENT, asset).stream_key
            try:
                await trim_stream(redis, stream, SENTIMENT_STREAM_MAXLEN)
            except RedisError as e:
                log.warning("trim failed; retrying next round", stream=stream, error=str(e))
        try:
            await asyncio.wait_for(stop.wait(), TRIM_INTERVAL_S)
        except TimeoutError:
            continue


async def _consume(
    redis: Redis, settings: Settings, provider: Provider, instance: str, stop: asyncio.Event
) -> None:
    worker = SentimentWorker(redis, provider, settings.timeframes)
    consumer = StreamConsumer(
        redis,
        indicator_streams(settings),
        worker.handle,
        ConsumerConfig(group=GROUP, consumer=instance),
    )
    # Groups exist before the first beat, so a live beacon means this instance is consuming.
    await consumer.ensure_groups()
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(consumer.run(stop))
        tasks.create_task(trim_sentiment_streams(redis, settings.assets, stop))
        tasks.create_task(run_beacon(redis, SERVICE, instance, stop, {"provider": provider.name}))


async def _idle(redis: Redis, instance: str, stop: asyncio.Event) -> None:
    log.info("sentiment provider is off; publishing nothing")
    await run_beacon(redis, SERVICE, instance, stop, {"provider": "off"})


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Run the sentiment service until `stop` is set."""
    instance = instance_id(SERVICE)
    provider = select_provider(settings.sentiment)
    redis = create_redis(settings.redis_dsn, client_name=instance)
    log.info("sentiment starting", instance=instance, provider=settings.sentiment)
    try:
        if provider is None:
            await _idle(redis, instance, stop)
        else:
            await _consume(redis, settings, provider, instance, stop)
    finally:
        await redis.aclose()
    log.info("sentiment stopped", instance=instance)
