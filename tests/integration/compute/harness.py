"""A compute consumer running in-process on one test's own asset, plus ways to feed it."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio import Redis

from marketpulse_common.consumer import ConsumerConfig, StreamConsumer
from marketpulse_common.events import (
    Candle,
    Evaluation,
    Forecast,
    Indicators,
    Schema,
    encode_payload,
)
from marketpulse_common.keys import Channel, ChannelKind, candles_key, forecasts_key
from marketpulse_common.publisher import Publisher, read_snapshot
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.service import GROUP, candle_consumer
from tests.waiting import eventually

TF = Timeframe.H1
START = 1_700_000_000 // 3600 * 3600


def make_candles(count: int, *, seed: int = 3, start: int = START) -> list[Candle]:
    """A seeded random walk of closed, aligned candles with volume."""
    rng = random.Random(seed)
    price, out = 100.0, []
    for i in range(count):
        close = price * (1 + rng.gauss(0, 0.01))
        high = max(price, close) * (1 + rng.random() * 0.005)
        low = min(price, close) * (1 - rng.random() * 0.005)
        out.append(
            Candle(t=start + i * TF.seconds, o=price, h=high, l=low, c=close, v=rng.uniform(1, 9))
        )
        price = close
    return out


async def cache_candles(redis: Redis, asset: str, candles: list[Candle]) -> None:
    """Store candles the way the ingestor does: a sorted set scored by open time."""
    await redis.zadd(candles_key(asset, TF), {encode_payload(c): c.t for c in candles})


@dataclass
class Market:
    """One asset's candles and indicators channels, fed and read as the other services do."""

    redis: Redis
    asset: str
    candles: Channel = field(init=False)
    indicators: Channel = field(init=False)

    forecast: Channel = field(init=False)
    evaluation: Channel = field(init=False)

    def __post_init__(self) -> None:
        self.candles = Channel(ChannelKind.CANDLES, self.asset, TF)
        self.indicators = Channel(ChannelKind.INDICATORS, self.asset, TF)
        self.forecast = Channel(ChannelKind.FORECAST, self.asset, TF)
        self.evaluation = Channel(ChannelKind.EVALUATION, self.asset, TF)

    async def announce(self, candle: Candle) -> str:
        """Publish a candle event as the ingestor does (ver = open time)."""
        published = await Publisher(self.redis).publish(self.candles, candle, ver=candle.t)
        assert published is not None
        return published.seq

    async def add_raw_event(self, fields: dict[str, str]) -> str:
        """Append an entry as-is (a redelivery, an out-of-order event, or garbage)."""
        return cast(str, await self.redis.xadd(self.candles.stream_key, fields))  # type: ignore[arg-type]

    async def event_fields(self, entry_id: str) -> dict[str, str]:
        rows = await self.redis.xrange(self.candles.stream_key, entry_id, entry_id)
        return cast(dict[str, str], rows[0][1])

    async def latest(self) -> Indicators | None:
        snapshot = await read_snapshot(self.redis, self.indicators)
        if snapshot is None:
            return None
        value = snapshot.decode()
        assert isinstance(value, Indicators)
        return value

    async def wait_for_window(self, last_open: int) -> Indicators:
        async def probe() -> Indicators | None:
            value = await self.latest()
            return value if value and value.window.last_open == last_open else None

        return await eventually(probe, what=f"indicators of the window ending at {last_open}")

    async def latest_of(self, channel: Channel) -> Schema | None:
        snapshot = await read_snapshot(self.redis, channel)
        return None if snapshot is None else snapshot.decode()

    async def wait_for_forecast(self, origin: int) -> Forecast:
        async def probe() -> Forecast | None:
            value = await self.latest_of(self.forecast)
            return value if isinstance(value, Forecast) and value.origin == origin else None

        return await eventually(probe, what=f"the forecast made at {origin}")

    async def wait_for_evaluation(self, as_of: int) -> Evaluation:
        async def probe() -> Evaluation | None:
            value = await self.latest_of(self.evaluation)
            return value if isinstance(value, Evaluation) and value.as_of == as_of else None

        return await eventually(probe, what=f"the evaluation as of {as_of}")

    async def ledger(self) -> dict[int, Forecast]:
        """Every recorded forecast by candle open time."""
        raw = await self.redis.hgetall(forecasts_key(self.asset, TF))
        return {int(t): Forecast.model_validate_json(v) for t, v in raw.items()}

    async def history_len(self) -> int:
        return int(await self.redis.xlen(self.indicators.stream_key))

    async def pending(self) -> int:
        info = await self.redis.xpending(self.candles.stream_key, GROUP)
        return int(info["pending"])


@dataclass
class Compute(Market):
    """A Market with a compute consumer running on it, dead-lettering to its own stream."""

    consumer: StreamConsumer = field(kw_only=True)
    dead_letters: str = field(kw_only=True)

    async def wait_until_handled(self, count: int) -> None:
        """Until `count` events were acknowledged (processed or dead-lettered)."""

        async def probe() -> bool:
            stats = self.consumer.stats
            return stats.processed + stats.dead_lettered >= count

        await eventually(probe, what=f"{count} events handled")


def fast_config(consumer: str) -> ConsumerConfig:
    """Retries within a fraction of a second, so a test of retry behaviour stays short.

    Many deliveries are allowed because retries come fast: a slow machine must not turn a
    wait for the cache into a dead letter.
    """
    return ConsumerConfig(
        group=GROUP,
        consumer=consumer,
        max_deliveries=20,
        claim_idle_ms=150,
        claim_interval_s=0.05,
        block_ms=50,
    )


def start_compute(redis: Redis, asset: str) -> tuple[Compute, asyncio.Event, asyncio.Task[None]]:
    dead_letters = f"mp:{asset}:deadletter"
    consumer = candle_consumer(
        redis, [asset], [TF], fast_config(f"{asset}-c1"), dead_letter_stream=dead_letters
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    return Compute(redis, asset, consumer=consumer, dead_letters=dead_letters), stop, task
