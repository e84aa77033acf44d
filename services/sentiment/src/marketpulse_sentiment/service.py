"""The sentiment service: consume indicator and forecast events, publish sentiment.

`run(settings, stop)` owns everything it opens: the Redis client, the provider (and its
HTTP client), the consumer, the news job, the trim loop and the health beacon, all stopped
by `stop` and closed on the way out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.consumer import ConsumerConfig, StreamConsumer
from marketpulse_common.health import instance_id, run_beacon
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.retention import run_retention
from marketpulse_common.settings import Settings
from marketpulse_sentiment.anthropic_provider import PROVIDER as ANTHROPIC
from marketpulse_sentiment.feed_client import feed_http_client
from marketpulse_sentiment.news import NewsJob
from marketpulse_sentiment.providers import Provider, build_provider
from marketpulse_sentiment.worker import TRIGGER_KINDS, SentimentWorker

log = get_logger(__name__)

SERVICE = "sentiment"
GROUP = "sentiment"
# The sentiment streams are a resume log for WebSocket clients, not an archive (the snapshot
# holds the latest value). A sentiment is published at most once per indicator or forecast
# event, about 30 an hour per asset in real time with the default timeframes: 1000 entries
# keep more than a day of history for reconnecting clients in well under a megabyte per asset.
SENTIMENT_STREAM_MAXLEN = 1000


def trigger_streams(settings: Settings) -> list[str]:
    """Every indicators and forecast stream of the configured assets and timeframes."""
    return [
        Channel(kind, asset, tf).stream_key
        for asset in settings.assets
        for tf in settings.timeframes
        for kind in TRIGGER_KINDS
    ]


async def trim_sentiment_streams(redis: Redis, assets: Sequence[str], stop: asyncio.Event) -> None:
    """Keep every sentiment stream near SENTIMENT_STREAM_MAXLEN until `stop`."""
    streams = [Channel(ChannelKind.SENTIMENT, asset).stream_key for asset in assets]
    await run_retention(redis, streams, stop, maxlen=SENTIMENT_STREAM_MAXLEN)


async def _news(redis: Redis, settings: Settings, instance: str, stop: asyncio.Event) -> None:
    async with feed_http_client() as client:
        job = NewsJob(
            redis,
            client,
            feeds=settings.news_feeds,
            assets=settings.assets,
            interval_s=settings.news_interval_s,
            owner=instance,
        )
        await job.run(stop)


async def _consume(
    redis: Redis, settings: Settings, provider: Provider, instance: str, stop: asyncio.Event
) -> None:
    worker = SentimentWorker(redis, provider, settings.timeframes)
    consumer = StreamConsumer(
        redis,
        trigger_streams(settings),
        worker.handle,
        ConsumerConfig(group=GROUP, consumer=instance, claim_idle_ms=settings.claim_idle_ms),
    )
    # Groups exist before the first beat, so a live beacon means this instance is consuming.
    await consumer.ensure_groups_patiently(stop)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(consumer.run(stop))
        tasks.create_task(trim_sentiment_streams(redis, settings.assets, stop))
        tasks.create_task(run_beacon(redis, SERVICE, instance, stop, {"provider": provider.name}))
        # Only a model reads headlines; the rules would fetch them for nothing.
        if provider.name == ANTHROPIC and settings.news_feeds:
            tasks.create_task(_news(redis, settings, instance, stop))


async def _idle(redis: Redis, instance: str, stop: asyncio.Event) -> None:
    log.info("sentiment provider is off; publishing nothing")
    await run_beacon(redis, SERVICE, instance, stop, {"provider": "off"})


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Run the sentiment service until `stop` is set."""
    instance = instance_id(SERVICE)
    redis = create_redis(settings.redis_dsn, client_name=instance, cluster=settings.redis_cluster)
    provider: Provider | None = None
    try:
        provider = build_provider(settings, redis)
        log.info(
            "sentiment starting",
            instance=instance,
            provider=provider.name if provider else "off",
            model=settings.anthropic_model if provider and provider.name == ANTHROPIC else None,
        )
        if provider is None:
            await _idle(redis, instance, stop)
        else:
            await _consume(redis, settings, provider, instance, stop)
    finally:
        if provider is not None:
            await provider.aclose()
        await redis.aclose()
    log.info("sentiment stopped", instance=instance)
