"""The compute service: candle events in; indicators, forecasts and evaluations out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.consumer import ConsumerConfig, StreamConsumer
from marketpulse_common.health import instance_id, run_beacon
from marketpulse_common.keys import DEAD_LETTER_STREAM, Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.retention import run_retention
from marketpulse_common.settings import Settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.forecaster import ForecastConfig
from marketpulse_compute.forecasting import ForecastingConfig
from marketpulse_compute.handler import CandleHandler

log = get_logger(__name__)

SERVICE = "compute"
# One group shared by every replica, so each candle event is handled by exactly one of them.
GROUP = "compute"
# Entries kept per indicators (and forecast) stream. The history is what WebSocket clients
# resume from and what a lagging sentiment group catches up on: 1000 entries are ~3.5 days
# of 5m candles in real time (and ~3 minutes even at MP_SIM_SPEED=300), at 1-2 kB each.
INDICATORS_MAXLEN = 1000
FORECAST_MAXLEN = INDICATORS_MAXLEN
# Evaluations are not a WebSocket channel and each one restates the whole report (~6 kB):
# a short history is enough to see how the numbers moved lately.
EVALUATION_MAXLEN = 100
# The channels compute publishes, and how many entries of each one's history it keeps
# (trimmed by marketpulse_common.retention, never past what the sentiment group still needs).
PUBLISHED_MAXLEN = {
    ChannelKind.INDICATORS: INDICATORS_MAXLEN,
    ChannelKind.FORECAST: FORECAST_MAXLEN,
    ChannelKind.EVALUATION: EVALUATION_MAXLEN,
}


def channel_streams(
    kind: ChannelKind, assets: Sequence[str], timeframes: Sequence[Timeframe]
) -> list[str]:
    return [Channel(kind, asset, tf).stream_key for asset in assets for tf in timeframes]


def candle_consumer(
    redis: Redis,
    assets: Sequence[str],
    timeframes: Sequence[Timeframe],
    config: ConsumerConfig,
    *,
    forecasting: ForecastingConfig | None = None,
    dead_letter_stream: str = DEAD_LETTER_STREAM,
) -> StreamConsumer:
    """The consumer of every candles channel, handing each event to a CandleHandler."""
    return StreamConsumer(
        redis,
        channel_streams(ChannelKind.CANDLES, assets, timeframes),
        CandleHandler(redis, forecasting=forecasting),
        config,
        dead_letter_stream=dead_letter_stream,
    )


def forecasting_config(settings: Settings) -> ForecastingConfig:
    """The forecasting knobs that are settings (MP_FORECAST_HORIZON); the rest are defaults."""
    return ForecastingConfig(forecast=ForecastConfig(horizon=settings.forecast_horizon))


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Consume and publish until `stop` is set; the message in hand is finished first."""
    instance = instance_id(SERVICE)
    redis = create_redis(settings.redis_dsn, client_name=instance, cluster=settings.redis_cluster)
    config = ConsumerConfig(group=GROUP, consumer=instance, claim_idle_ms=settings.claim_idle_ms)
    consumer = candle_consumer(
        redis,
        settings.assets,
        settings.timeframes,
        config,
        forecasting=forecasting_config(settings),
    )
    log.info("compute starting", instance=instance, assets=len(settings.assets))
    try:
        # A failure in any task cancels the others: a half-running service is worse than a
        # crashed one that its supervisor restarts.
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(run_beacon(redis, SERVICE, instance, stop, {"group": GROUP}))
            for kind, maxlen in PUBLISHED_MAXLEN.items():
                streams = channel_streams(kind, settings.assets, settings.timeframes)
                tasks.create_task(run_retention(redis, streams, stop, maxlen=maxlen))
            tasks.create_task(consumer.run(stop))
    finally:
        await redis.aclose()
    stats = consumer.stats
    log.info(
        "compute stopped",
        processed=stats.processed,
        failed=stats.failed,
        dead_lettered=stats.dead_lettered,
        reclaimed=stats.reclaimed,
    )
