"""The ingestor running in-process against a private Redis, and ways to read what it wrote."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from marketpulse_common.connection import create_redis
from marketpulse_common.events import Candle
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.settings import Settings, load_settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.coingecko.source import CoinGeckoSource
from marketpulse_ingestor.service import Ingestor
from marketpulse_ingestor.simulated.source import SimulatedSource
from marketpulse_ingestor.source import MarketSource
from tests.coingecko_server.server import FakeCoinGecko

# An hour of market time per wall second: a 1h candle closes every second, a 5m one 12 times.
FAST = 3600.0


def sim_settings(redis_url: str, assets: list[str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "source": "simulated",
        "assets": assets,
        "timeframes": ["5m", "1h"],
        "sim_speed": FAST,
        "history_depth": 60,
        **overrides,
    }
    return load_settings(**values)


@dataclass(frozen=True)
class Published:
    """One stream entry of a candles channel."""

    id: str
    prev: str
    candle: Candle


async def published_candles(redis: Redis, asset: str, tf: Timeframe) -> list[Published]:
    channel = Channel(ChannelKind.CANDLES, asset, tf)
    entries = cast(list[tuple[str, dict[str, str]]], await redis.xrange(channel.stream_key))
    return [
        Published(entry_id, fields["prev"], Candle.model_validate_json(fields["d"]))
        for entry_id, fields in entries
    ]


async def stream_length(redis: Redis, channel: Channel) -> int:
    return int(await redis.xlen(channel.stream_key))


@dataclass
class Running:
    ingestor: Ingestor
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def stopped(self, timeout: float = 10.0) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout)


@asynccontextmanager
async def running_ingestor(
    settings: Settings,
    instance: str,
    *,
    wrap: Callable[[MarketSource], MarketSource] | None = None,
) -> AsyncIterator[Running]:
    """An Ingestor with its own Redis client and source; stopped and closed on exit."""
    redis = create_redis(settings.redis_dsn, client_name=instance)
    source: MarketSource = await SimulatedSource.open(redis, settings)
    if wrap is not None:
        source = wrap(source)
    ingestor = Ingestor(settings, redis, source, instance=instance)
    stop = asyncio.Event()
    task = asyncio.create_task(ingestor.run(stop))
    try:
        yield Running(ingestor, stop, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await source.aclose()
        await redis.aclose()


def cg_settings(
    redis_url: str, server: FakeCoinGecko, assets: list[str], **overrides: Any
) -> Settings:
    """Settings of an ingestor on the fake CoinGecko `server` (its plan and key)."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "source": "coingecko",
        "assets": assets,
        "timeframes": ["5m", "1h", "4h", "1d"],
        "history_depth": 60,
        "coingecko_plan": server.plan,
        "coingecko_base_url": server.base_url,
        "coingecko_timeout_s": 2.0,
        **overrides,
    }
    if server.api_key is not None:
        values.setdefault("coingecko_api_key", server.api_key)
    return load_settings(**values)


@asynccontextmanager
async def running_coingecko(
    settings: Settings, instance: str, *, wall: Callable[[], float] = time.time
) -> AsyncIterator[Running]:
    """An Ingestor on the CoinGecko source with its own Redis client; stopped on exit."""
    redis = create_redis(settings.redis_dsn, client_name=instance)
    source = await CoinGeckoSource.open(settings, redis)
    ingestor = Ingestor(settings, redis, source, instance=instance, wall=wall)
    stop = asyncio.Event()
    task = asyncio.create_task(ingestor.run(stop))
    try:
        yield Running(ingestor, stop, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await source.aclose()
        await redis.aclose()
