"""Put an asset's cached state into Redis the way the other services (and the news job) do."""

from __future__ import annotations

import orjson
from redis.asyncio import Redis

from marketpulse_common.events import Sentiment
from marketpulse_common.keys import Channel, ChannelKind, sentiment_headlines_key
from marketpulse_common.publisher import Published, Publisher, read_snapshot
from marketpulse_common.timeframes import Timeframe
from tests.unit.sentiment.inputs_factory import evaluation, forecast, frame, indicators, ticker

PRICE = 100_000.0


async def publish_ticker(
    redis: Redis, asset: str, price: float = PRICE, change: float = 3.0
) -> None:
    await Publisher(redis).publish(Channel(ChannelKind.TICKER, asset), ticker(asset, price, change))


async def publish_indicators(
    redis: Redis, asset: str, tf: Timeframe, *, rsi: float = 64.0, window: int = 99
) -> Published:
    """Snapshot + event, as compute publishes them (ver = the window's last open time)."""
    value = indicators(asset, tf, frame(PRICE, trend=0.01, rsi=rsi, hist=50.0), window=window)
    published = await Publisher(redis).publish(
        Channel(ChannelKind.INDICATORS, asset, tf), value, ver=value.window.last_open
    )
    assert published is not None
    return published


async def stored_sentiment(redis: Redis, asset: str) -> Sentiment | None:
    snapshot = await read_snapshot(redis, Channel(ChannelKind.SENTIMENT, asset))
    if snapshot is None:
        return None
    value = snapshot.decode()
    assert isinstance(value, Sentiment)
    return value


async def sentiment_count(redis: Redis, asset: str) -> int:
    return int(await redis.xlen(Channel(ChannelKind.SENTIMENT, asset).stream_key))


async def publish_forecast(
    redis: Redis, asset: str, tf: Timeframe, p_up: float, *, origin: int = 99
) -> Published:
    """Forecast and its evaluation snapshots, as compute publishes them."""
    value = forecast(asset, tf, p_up, origin=origin)
    published = await Publisher(redis).publish(
        Channel(ChannelKind.FORECAST, asset, tf), value, ver=value.origin
    )
    await Publisher(redis).publish(
        Channel(ChannelKind.EVALUATION, asset, tf), evaluation(asset, tf), ver=value.origin
    )
    assert published is not None
    return published


async def store_headlines(redis: Redis, asset: str, titles: list[str]) -> None:
    """What the news job leaves for the asset."""
    await redis.set(sentiment_headlines_key(asset), orjson.dumps(titles).decode(), ex=600)
